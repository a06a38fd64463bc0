# A toolchain from a Debian suite: GHC and libghc-*-dev from the suite itself.
# The build context holds apt.conf (options from matrix.yaml), sources.list (extra apt sources, often
# empty) and packages.txt (one package a line). A package the suite does not have is left out and listed
# in missing-packages.txt: a recipe whose dependency is not packaged then fails at configure as a
# dependency failure, with that list as evidence. Both lists stay in the image for the freshness check.
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
# REFRESH changes when the suite moved since the last build: apt then runs again instead of being cached.
ARG REFRESH
RUN echo "refresh: ${REFRESH}" \
 && if [ -s /usr/share/ganeti-compat/base-sources.list ]; then \
      cp /usr/share/ganeti-compat/base-sources.list /etc/apt/sources.list \
      && rm -f /etc/apt/sources.list.d/debian.sources; fi \
 && apt-get update \
 && sh /usr/share/ganeti-compat/check-frozen-release /var/lib/apt/lists /usr/share/ganeti-compat/frozen-release \
 && apt-get dist-upgrade -y \
 && : > /usr/share/ganeti-compat/missing-packages.txt \
 && while read -r package; do \
      if apt-cache show "$package" >/dev/null 2>&1; then echo "$package" >> /tmp/available.txt; \
      else echo "$package" >> /usr/share/ganeti-compat/missing-packages.txt; fi; \
    done < /usr/share/ganeti-compat/packages.txt \
 && xargs -a /tmp/available.txt apt-get install -y --no-install-recommends \
 && rm /tmp/available.txt
RUN useradd --create-home --uid 1000 builder && mkdir -p /build && chown builder:builder /build
