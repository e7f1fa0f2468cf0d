# syntax=docker/dockerfile:1
# One image for both roles: the API (default command) and a worker (`node dist/server/worker.js`).
# It runs build output (JavaScript compiled from server/ and shared/), no TypeScript loader.
# See docker-compose.yaml and README, "Deploy".

# --- dependencies (dev included: Vite builds the web app) ---
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# @tensorflow/tfjs-node is optional: where its install cannot fetch libtensorflow, the workers use wasm.
RUN npm ci --no-audit --no-fund

# --- the PWA (dist/web) and the server (dist/server, dist/shared), built ---
FROM deps AS build
COPY . .
RUN npm run build

# --- production dependencies only ---
FROM deps AS prod-deps
RUN npm prune --omit=dev --no-audit --no-fund

# --- runtime ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    WEB_DIR=/app/dist/web
WORKDIR /app
COPY --from=prod-deps --chown=root:root /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
# The data volume (uploads, results, generated secrets) belongs to the unprivileged user;
# a new named volume mounted at /data takes this ownership.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# For the API. Workers have no HTTP port: docker-compose.yaml turns this off for them.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server/api.js"]
