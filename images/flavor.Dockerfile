# One libcurl flavor on top of a toolchain image. Both flavors' runtime libraries install side by side;
# only the link-time libcurl.so differs, so pointing it at the flavor's soname is the whole difference.
ARG BASE
FROM ${BASE}
ARG SONAME
USER root
RUN path=$(ldconfig -p | awk -v soname="$SONAME" '$1 == soname {print $NF; exit}') \
 && if [ -z "$path" ]; then echo "ganeti-compat: $SONAME is not installed in this image" >&2; exit 1; fi \
 && ln -sf "$path" "$(dirname "$path")/libcurl.so" \
 && echo "libcurl.so -> $path"
# The C compiler GHC links with, by name, found first on PATH: as it is, except that under a further flavor's
# with-first-libraries a shared library links the first flavor's libcurl (images/scripts/link-shared-first).
COPY link-shared-first /usr/local/lib/ganeti-compat/link-shared-first
RUN chmod 755 /usr/local/lib/ganeti-compat/link-shared-first \
 && for name in x86_64-linux-gnu-gcc gcc cc; do \
      if command -v "$name" >/dev/null; then ln -s /usr/local/lib/ganeti-compat/link-shared-first "/usr/local/bin/$name"; fi; \
    done
