#!/usr/bin/env bash
# Installs what is missing, starts the servers the tests use when they are down (and stops
# only those it started), runs the whole test suite and prints one closing summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1

started=()
cleanup() {
  for s in "${started[@]}"; do
    case "$s" in
      postgres) pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main stop >/dev/null 2>&1 ;;
      redis) redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 ;;
    esac
  done
}
trap cleanup EXIT

if command -v pg_ctlcluster >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start && started+=(postgres)
fi
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/knude-test-redis.log && started+=(redis)
fi

mkdir -p test-results
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@"
rc=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  // A suite that fails to load counts as failed even when none of its tests ran.
  const failed = r.numFailedTests || r.numFailedTestSuites;
  console.log(`tests: ${r.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
' 2>/dev/null || echo "tests: 0 passed, 1 failed"
exit $rc
