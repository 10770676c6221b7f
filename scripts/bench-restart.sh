#!/usr/bin/env bash
# Restart benchmark: stores N undelivered 1 KiB messages through a real gateway, stops
# it (SIGKILL right after the fill, then SIGTERM), starts it again on the same data directory and
# reports how long it takes to answer /ready and its resident memory once ready.
#
# Usage: ./scripts/bench-restart.sh [N=1000000] [PORT=18080]
# Needs a release build: cargo build --release -p agentgate
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-1000000}"
PORT="${2:-18080}"
BIN="$PWD/target/release/agentgate"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p agentgate" >&2; exit 2; }

WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/admin.key"
export AGENTGATE_LISTEN="127.0.0.1:$PORT" AGENTGATE_DATA_DIR="$WORK/data" \
    AGENTGATE_AUTH__ADMIN_KEY_FILE="$WORK/admin.key" AGENTGATE_LOGGING__LEVEL=warn
URL="http://127.0.0.1:$PORT"

start() {
    local t0 t1
    t0=$(date +%s.%N)
    "$BIN" serve 2>>"$WORK/serve.log" &
    PID=$!
    for _ in $(seq 1 600); do
        if "$BIN" health-check --ready --url "$URL" --timeout 1 >/dev/null 2>&1; then
            t1=$(date +%s.%N)
            printf 'ready after %.2f s, RSS %d MB\n' "$(echo "$t1 - $t0" | bc)" \
                "$(( $(ps -o rss= -p "$PID") / 1024 ))"
            return 0
        fi
        sleep 0.05
    done
    echo "not ready within 30 s" >&2
    exit 1
}

echo "== filling: $N messages of 1 KiB into one pull inbox"
start
"$BIN" --admin-key-file "$WORK/admin.key" --gateway-url "$URL" bench send --setup --keep \
    --clients 64 --messages "$N" --size 1024 | grep -E 'successes|errors|throughput'
printf 'data directory: %s\n' "$(du -sh "$WORK/data" | cut -f1)"

echo "== restart after SIGKILL right after the fill (crash recovery)"
kill -KILL "$PID"; wait "$PID" 2>/dev/null || true
start
echo "== restart after SIGTERM (clean shutdown)"
kill -TERM "$PID"; wait "$PID" || true
start
