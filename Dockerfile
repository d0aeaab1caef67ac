# syntax=docker/dockerfile:1
#
# hybrid-image-search on the official Bun image, pinned to the Bun version in package.json
# (engines.bun); bump every FROM together.
#
#   docker build -t hybrid-image-search .
#   docker run --rm -p 3000:3000 -v his-data:/data hybrid-image-search
#
# Traces go to OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318, i.e. inside the
# container): point it at an Alloy or collector the container can reach.

# --- deps: the full dependency tree, exactly as locked --------------------------------------------
FROM oven/bun:1.4.4 AS deps
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile

# --- check: `docker build --target check .` type-checks the service with the full tree -----------
FROM deps AS check
COPY tsconfig.json ./
COPY src ./src
RUN bun x tsc --noEmit -p tsconfig.json

# --- prod-deps: production dependencies only ------------------------------------------------------
FROM oven/bun:1.4.4 AS prod-deps
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production

# --- runtime ----------------------------------------------------------------------------------------
FROM oven/bun:1.4.4 AS runtime
WORKDIR /app

# `docker stop` waits 10 s after SIGTERM before SIGKILL. Shutdown drains requests for up to
# SHUTDOWN_GRACE_MS, then flushes spans for up to 5 s: 4 s + 5 s fits. For a longer drain (slow
# generations), raise both: `docker run --stop-timeout 30 -e SHUTDOWN_GRACE_MS=20000 …`
# (compose: `stop_grace_period: 30s`).
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data \
    SHUTDOWN_GRACE_MS=4000 \
    OTEL_SERVICE_NAME=hybrid-image-search

COPY --from=prod-deps /app/node_modules ./node_modules

# The offline embedder's binary copy of the word vectors, written now so that no start parses the
# 300 MB JSON (node_modules/.cache/hybrid-image-search; the service cannot write node_modules).
# Only the file that builds it is copied first (its other imports are types), so a change
# elsewhere in src/ does not rebuild this layer.
COPY src/ai/word-vectors.ts ./src/ai/word-vectors.ts
RUN bun -e "await (await import('./src/ai/word-vectors.ts')).buildWordVectorCache()"

COPY package.json bun.lock bunfig.toml tsconfig.json ./
COPY src ./src
COPY drizzle ./drizzle

# The image's non-root `bun` user (uid 1000) owns the data volume; the code stays root-owned and
# read-only to the service.
RUN mkdir -p /data && chown bun:bun /data
VOLUME ["/data"]
USER bun

EXPOSE 3000

# No curl in the image: Bun itself asks /health. 127.0.0.1, not localhost: `localhost` may resolve
# to ::1 first, where the service does not listen.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD bun -e "fetch('http://127.0.0.1:${PORT:-3000}/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"

# The service installs its SIGTERM handler before anything else: Bun runs as PID 1 here, and PID 1
# ignores a signal it has no handler for.
STOPSIGNAL SIGTERM

CMD ["bun", "run", "src/server.ts"]
