# A toolchain from upstream binary distributions on an old Debian base. The tool downloads each file
# named in matrix.yaml into downloads/, verifies its checksum, and only then builds this image.
ARG BASE
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8
COPY apt.conf /etc/apt/apt.conf.d/99ganeti-compat
COPY sources.list /etc/apt/sources.list.d/ganeti-compat.list
COPY base-sources.list /usr/share/ganeti-compat/base-sources.list
# A frozen suite (jessie on the archive: its keys have expired) is trusted by the pinned sha256 of its Release
# file, on its own source line alone: the Release file apt read is checked before anything is installed.
COPY frozen-release check-frozen-release /usr/share/ganeti-compat/
COPY packages.txt /usr/share/ganeti-compat/packages.txt
# The recipe's Haskell libraries that no pinned sdist provides (Debian's would bring Debian's GHC along), left out
# on purpose: kept apart, since check-freshness would read the suite serving them as the suite moving. They begin
# missing-packages.txt (what the build lacks, for the verdict); the packages the old suite does not have (a recipe
# of a later Ganeti names them) are added below, as debian.Dockerfile does.
COPY unpinned-packages.txt /usr/share/ganeti-compat/unpinned-packages.txt
# REFRESH changes when the suite moved since the last build: apt then runs again instead of being cached.
ARG REFRESH
RUN echo "refresh: ${REFRESH}" \
 && if [ -s /usr/share/ganeti-compat/base-sources.list ]; then \
      cp /usr/share/ganeti-compat/base-sources.list /etc/apt/sources.list \
      && rm -f /etc/apt/sources.list.d/debian.sources; fi \
 && apt-get update \
 && sh /usr/share/ganeti-compat/check-frozen-release /var/lib/apt/lists /usr/share/ganeti-compat/frozen-release \
 && apt-get dist-upgrade -y \
 && cp /usr/share/ganeti-compat/unpinned-packages.txt /usr/share/ganeti-compat/missing-packages.txt \
 && while read -r package; do \
      if apt-cache show "$package" >/dev/null 2>&1; then echo "$package" >> /tmp/available.txt; \
      else echo "$package" >> /usr/share/ganeti-compat/missing-packages.txt; fi; \
    done < /usr/share/ganeti-compat/packages.txt \
 && xargs -a /tmp/available.txt apt-get install -y --no-install-recommends \
 && rm /tmp/available.txt
COPY downloads/ /tmp/downloads/
# GHC's bindist: ./configure && make install into /usr/local.
RUN mkdir /tmp/ghc && tar -xf /tmp/downloads/ghc -C /tmp/ghc --strip-components=1 \
 && cd /tmp/ghc && ./configure --prefix=/usr/local && make install && cd / && rm -rf /tmp/ghc
# The pinned Hackage sdists into the global database, offline, each built by its own Setup in the order the
# tool worked out from their .cabal files: no package index and no suite's cabal-install (GHC 7.10 needs
# cabal-install 1.22, which is pinned and installed like any other sdist).
COPY hackage-order.txt install-sdists /usr/share/ganeti-compat/
RUN sh /usr/share/ganeti-compat/install-sdists /usr/share/ganeti-compat/hackage-order.txt /tmp/downloads/hackage \
       /usr/local \
 && rm -rf /tmp/downloads
RUN useradd --create-home --uid 1000 builder && mkdir -p /build && chown builder:builder /build
