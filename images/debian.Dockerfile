# A toolchain from a Debian suite: GHC and libghc-*-dev from the suite itself.
# The build context holds apt.conf (options from matrix.yaml) and packages.txt (one package a line).
# A package the suite does not have is left out and listed in missing-packages.txt: a recipe whose
# dependency is not packaged then fails at configure as a dependency failure, with that list as evidence.
ARG BASE
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8
COPY apt.conf /etc/apt/apt.conf.d/99ganeti-compat
COPY packages.txt /tmp/packages.txt
RUN apt-get update \
 && mkdir -p /usr/share/ganeti-compat \
 && while read -r package; do \
      if apt-cache show "$package" >/dev/null 2>&1; then echo "$package" >> /tmp/available.txt; \
      else echo "$package" >> /usr/share/ganeti-compat/missing-packages.txt; fi; \
    done < /tmp/packages.txt \
 && xargs -a /tmp/available.txt apt-get install -y --no-install-recommends \
 && rm /tmp/packages.txt /tmp/available.txt
RUN useradd --create-home --uid 1000 builder && mkdir -p /build && chown builder:builder /build
