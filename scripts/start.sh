#!/usr/bin/env bash
# Installs what is missing, then starts a knude node on the embedded default configuration
# (SIP on 127.0.0.1:5060 UDP+TCP, 5061 TLS, 5062 WS, 5063 WSS; HTTP on 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec node bin/knude.js start "$@"
