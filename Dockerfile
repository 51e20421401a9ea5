# syntax=docker/dockerfile:1
# For teams that build images in their own CI: the same bundle the stacks deploy from S3, on the
# same Node image, pinned by digest (node:20.18.1-bookworm-slim, index digest as published in
# docker-library/repo-info). Build: `npm ci && npm run bundle`, then
#   docker build --build-arg RUNTIME=proxy  -t <registry>/surgeguard-proxy .
#   docker build --build-arg RUNTIME=worker -t <registry>/surgeguard-worker .
# and pass `image: '<registry>/surgeguard-proxy@sha256:<pushed digest>'` to InferenceWorkloads.
FROM docker.io/library/node@sha256:b2c8e0eb8a6aeeae33b2711f8f516003e27ee45804e270468d937b3214f2f0cc
ARG RUNTIME=proxy
WORKDIR /opt/surgeguard
# Exactly the files of dist/artifacts/manifest.json for this runtime (one directory, named by its SHA-256).
COPY dist/artifacts/${RUNTIME}/ /opt/surgeguard/bundle/
RUN set -eu; dir="$(ls -d /opt/surgeguard/bundle/*/)"; test "$(echo "$dir" | wc -l)" = 1; \
    sha="$(basename "$dir")"; echo "$sha  $dir${RUNTIME}.js" | sha256sum -c -; \
    mv "$dir${RUNTIME}.js" "$dir${RUNTIME}.js.map" /opt/surgeguard/; rm -rf /opt/surgeguard/bundle
ENV NODE_OPTIONS=--enable-source-maps RUNTIME=${RUNTIME}
USER 10001:10001
ENTRYPOINT ["/bin/sh", "-c", "exec node /opt/surgeguard/${RUNTIME}.js \"$@\"", "--"]
