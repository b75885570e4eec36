#!/usr/bin/env bash
# Installs what knude and its tests need on a Debian machine, skipping what is already there:
# Debian packages (apt-get), the npm dependencies (npm ci) and the compiled code (dist/).
set -euo pipefail
cd "$(dirname "$0")/.."

# sip-tester: SIPp, the real SIP peer of the integration tests and benchmarks.
# openssl: makes the self-signed certificate of the embedded default and test certificates.
# janus: the media plane (VideoRoom SFU, AudioBridge mixer) knude starts and supervises.
# chromium, iproute2: headless browser peers in the tests, in network namespaces (Janus skips loopback).
# firefox-esr: the join page is tested in Firefox too (driven over WebDriver BiDi by puppeteer-core).
# baresip, baresip-ffmpeg: a real SIP video endpoint (H.264 via avcodec, VP8) with mandatory SRTP (SDES)
# for the SIP media tests.
# python3-pylibsrtp: libsrtp bound for Python, the reference our own SRTP code is tested against.
# tshark: decodes the H.225.0 RAS messages knude writes, as an independent check of the codec.
DEBIAN_PACKAGES=(sip-tester openssl janus chromium firefox-esr iproute2 baresip baresip-ffmpeg python3-pylibsrtp tshark)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install: Debian packages ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when package-lock.json changed since the last install (it rebuilds better-sqlite3).
stamp=node_modules/.knude-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

npm run --silent build
