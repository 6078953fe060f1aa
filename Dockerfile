# syntax=docker/dockerfile:1
# Node 24, the newest LTS (toolsim supports 20.19, 22.14 and 24: docs/decisions/node-versions.md).
# toolsim: build stage compiles TypeScript and bakes the bundled
# tau-bench sample into cache/toolsim.db; the runtime stage holds only what serving needs.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts skips `prepare` (the sources are not copied yet) and the compile of
# better-sqlite3 12, which only Node 20 loads: on Node 22.14 and later toolsim loads better-sqlite3 13
# (`better-sqlite3-napi`), whose prebuilt Node-API binaries ship in its package (src/store/sqlite.ts).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bench ./bench
COPY test ./test
COPY vitest.config.ts ./
COPY openapi ./openapi
COPY cache/samples ./cache/samples
RUN npm run build \
 && node dist/src/cli.js ingest cache/samples/tau-bench/calls.jsonl cache/samples/tau-bench/tools.jsonl --db cache/toolsim.db \
 && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    TOOLSIM_DB=/app/cache/toolsim.db \
    TOOLSIM_HOST=0.0.0.0 \
    TOOLSIM_PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist/src ./dist/src
COPY --from=build --chown=node:node /app/openapi ./openapi
COPY --from=build --chown=node:node /app/cache ./cache
USER node
EXPOSE 8080
# Mount another cache over /app/cache (or set TOOLSIM_DB) to serve your own recordings.
VOLUME ["/app/cache"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TOOLSIM_PORT || 8080) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/cli.js", "serve"]
