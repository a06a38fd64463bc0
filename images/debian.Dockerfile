# A toolchain from a Debian suite: GHC and libghc-*-dev from the suite itself.
# The build context holds apt.conf (options from matrix.yaml) and packages.txt (one package a line).
ARG BASE
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8
COPY apt.conf /etc/apt/apt.conf.d/99ganeti-compat
COPY packages.txt /tmp/packages.txt
RUN apt-get update \
 && xargs -a /tmp/packages.txt apt-get install -y --no-install-recommends \
 && rm /tmp/packages.txt
RUN useradd --create-home --uid 1000 builder && mkdir -p /build && chown builder:builder /build
