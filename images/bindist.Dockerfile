# A toolchain from upstream binary distributions on an old Debian base. The tool downloads each file
# named in matrix.yaml into downloads/, verifies its checksum, and only then builds this image.
ARG BASE
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8
COPY apt.conf /etc/apt/apt.conf.d/99ganeti-compat
COPY packages.txt /tmp/packages.txt
RUN apt-get update \
 && xargs -a /tmp/packages.txt apt-get install -y --no-install-recommends \
 && rm /tmp/packages.txt
COPY downloads/ /tmp/downloads/
# GHC's bindist: ./configure && make install into /usr/local.
RUN mkdir /tmp/ghc && tar -xf /tmp/downloads/ghc -C /tmp/ghc --strip-components=1 \
 && cd /tmp/ghc && ./configure --prefix=/usr/local && make install && cd / && rm -rf /tmp/ghc
# The pinned Hackage tarballs into the global database, with the suite's cabal-install (no index needed).
RUN if ls /tmp/downloads/hackage/*.tar.gz >/dev/null 2>&1; then \
      cabal install --global --prefix=/usr/local --disable-documentation /tmp/downloads/hackage/*.tar.gz; fi \
 && rm -rf /tmp/downloads
RUN useradd --create-home --uid 1000 builder && mkdir -p /build && chown builder:builder /build
