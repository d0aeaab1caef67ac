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

ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data \
    OTEL_SERVICE_NAME=hybrid-image-search

COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json bun.lock bunfig.toml tsconfig.json ./
COPY src ./src
COPY drizzle ./drizzle

# The offline embedder's binary copy of the word vectors, written now so that no start parses the
# 300 MB JSON (node_modules/.cache/hybrid-image-search; the service cannot write node_modules).
RUN bun -e "await (await import('./src/ai/word-vectors.ts')).buildWordVectorCache()"

# The image's non-root `bun` user (uid 1000) owns the data volume; the code stays root-owned and
# read-only to the service.
RUN mkdir -p /data && chown bun:bun /data
VOLUME ["/data"]
USER bun

EXPOSE 3000

# No curl in the image: Bun itself asks /health (200 once the database is ready).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD bun -e "fetch('http://localhost:${PORT:-3000}/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"

# SIGTERM lets the service drain requests (<=10 s) and flush spans (<=5 s); give `docker stop`
# at least 20 s (`docker stop -t 30`, compose `stop_grace_period: 30s`).
STOPSIGNAL SIGTERM

CMD ["bun", "run", "src/server.ts"]
