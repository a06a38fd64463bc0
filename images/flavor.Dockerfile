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
