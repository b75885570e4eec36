# syntax=docker/dockerfile:1
#
# knude, the video node. The image runs the embedded SIP server by default
# (/etc/knude/knude.yaml = docker/knude.image.yaml: SIP and HTTP on all interfaces);
# docker/compose.yaml mounts docker/knude.yaml over it to use an external drachtio-server.
#
#   docker build -t knude .
#   docker run --rm -p 5060:5060/udp -p 5060:5060 -p 5061:5061 -p 5062:5062 -p 5063:5063 \
#     -p 8080:8080 -v knude-data:/var/lib/knude knude
#
# Settings: mount your own /etc/knude/knude.yaml (see config/knude.example.yaml) and/or pass
# KNUDE_* environment variables (config/README.md).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: dependencies (with dev tools) and the TypeScript build ------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# python3, make, g++: only used when better-sqlite3 has no prebuilt binary for this platform.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime -------------------------------------------------------------------------------
FROM ${NODE_IMAGE}

# Debian packages knude needs at run time:
#   openssl  makes the self-signed SIP TLS certificate of the embedded default (src/util/tls-cert.ts)
#   tini     PID 1: passes SIGTERM/SIGINT to node and reaps child processes (openssl)
# Janus (the SFU behind meeting rooms) goes here when rooms land: add `janus` (Debian bookworm
# ships 1.1.x) to this list, or run it as its own container (see the janus placeholder in
# docker/compose.yaml), and document its ports below.
ARG RUNTIME_PACKAGES="openssl tini"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid so volumes and mounted files can be owned by it from outside the container.
RUN groupadd --system --gid 10001 knude \
 && useradd --system --uid 10001 --gid knude --home-dir /var/lib/knude --no-create-home --shell /usr/sbin/nologin knude \
 && mkdir -p /etc/knude /var/lib/knude \
 && chown knude:knude /var/lib/knude \
 && chmod 0750 /var/lib/knude

WORKDIR /app
ENV NODE_ENV=production
# Code and dependencies stay owned by root: the knude user can read them, not change them.
COPY package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY docker/knude.image.yaml /etc/knude/knude.yaml

# node.dataDir of the image's configuration: SQLite store, generated certificates, nonce secret.
VOLUME ["/var/lib/knude"]

# SIP (embedded server; with sip.server=drachtio the drachtio container owns these instead)
EXPOSE 5060/udp
EXPOSE 5060/tcp
# SIP over TLS
EXPOSE 5061/tcp
# SIP over WebSocket (ws) and secure WebSocket (wss), for browsers
EXPOSE 5062/tcp
EXPOSE 5063/tcp
# HTTP: /healthz, /metrics, administration API
EXPOSE 8080/tcp

USER knude

# Probes http.port 8080 on loopback; change it here too if you move http.port, and keep
# http.address 0.0.0.0 or 127.0.0.1 (a single other address would not answer on loopback).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/knude.js", "start", "--config", "/etc/knude/knude.yaml"]
