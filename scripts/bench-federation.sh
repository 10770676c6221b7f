#!/usr/bin/env bash
# Federation benchmark: two gateways on this machine (a.test and b.test, static records
# pointing at each other over loopback), `bench send` posting 1 KiB messages from an
# agent at a.test to an agent at b.test, then waiting until a.test's outbox is empty.
# Reports the accept rate at a.test and the end-to-end rate: messages that reached
# b.test's inbox per second, from the first send until the last one arrived.
#
# Usage: ./scripts/bench-federation.sh [SECS=30] [CLIENTS=64] [PORT_A=18081] [PORT_B=18082]
# Environment: OUTBOUND_CONCURRENCY (default 512); PEER_FEATURES (the records' `features`,
# default `batch`; set it empty to measure single deliveries).
# Needs a release build: cargo build --release -p agentgate
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${1:-30}"
CLIENTS="${2:-64}"
PORT_A="${3:-18081}"
PORT_B="${4:-18082}"
BIN="$PWD/target/release/agentgate"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p agentgate" >&2; exit 2; }

WORK="$(mktemp -d)"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

# gateway NAME PORT PEER PEER_PORT
gateway() {
    local name=$1 port=$2 peer=$3 peer_port=$4 dir="$WORK/$1"
    mkdir -p "$dir"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/admin.key"
    cat > "$dir/config.yaml" <<YAML
server:
  domain: $name
  listen: 127.0.0.1:$port
  public_url: http://127.0.0.1:$port
storage:
  data_dir: $dir/data
auth:
  admin_key_file: $dir/admin.key
logging:
  level: warn
federation:
  allow_http: true
  allow_private_peers: true
  outbound:
    concurrency: ${OUTBOUND_CONCURRENCY:-512}
  static_records:
    $peer: "v=amtp1;gateway=http://127.0.0.1:$peer_port;features=${PEER_FEATURES-batch}"
YAML
    "$BIN" serve --config "$dir/config.yaml" 2>>"$dir/serve.log" &
    PIDS+=($!)
    for _ in $(seq 1 200); do
        "$BIN" health-check --ready --url "http://127.0.0.1:$port" --timeout 1 >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "$name not ready" >&2; cat "$dir/serve.log" >&2; exit 1
}

# metric NAME PORT METRIC: the value of one unlabelled series.
metric() {
    curl -s -H "X-Admin-Key: $(cat "$WORK/$1/admin.key")" "http://127.0.0.1:$2/metrics" \
        | awk -v m="$3" '$1 == m { print $2 }'
}

gateway a.test "$PORT_A" b.test "$PORT_B"
gateway b.test "$PORT_B" a.test "$PORT_A"
A="http://127.0.0.1:$PORT_A"
B="http://127.0.0.1:$PORT_B"
KEY=$("$BIN" --json --gateway-url "$A" --admin-key-file "$WORK/a.test/admin.key" \
    admin agent register alice | sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p')
"$BIN" --gateway-url "$B" --admin-key-file "$WORK/b.test/admin.key" \
    admin agent register bob >/dev/null

t0=$(date +%s.%N)
"$BIN" --gateway-url "$A" bench send --from alice@a.test --to bob@b.test --key "$KEY" \
    --clients "$CLIENTS" --duration "$SECS" --size 1024 | grep -E 'successes|errors|throughput|latency'
t1=$(date +%s.%N)
sent=$(metric a.test "$PORT_A" agentgate_messages_accepted_total)
# Wait (at most 10 minutes) for the outbox to drain.
for _ in $(seq 1 6000); do
    [ "$(metric a.test "$PORT_A" amtp_messages_in_flight)" = "0" ] && break
    sleep 0.1
done
t2=$(date +%s.%N)
arrived=$(metric b.test "$PORT_B" agentgate_messages_accepted_total)
printf 'accepted at a.test: %d in %.1f s (%.0f msg/s)\n' "$sent" "$(echo "$t1 - $t0" | bc)" \
    "$(echo "$sent / ($t1 - $t0)" | bc -l)"
printf 'in b.test inboxes: %d, last after %.1f s: end to end %.0f msg/s\n' "$arrived" \
    "$(echo "$t2 - $t0" | bc)" "$(echo "$arrived / ($t2 - $t0)" | bc -l)"
failed=$(curl -s -H "X-Admin-Key: $(cat "$WORK/a.test/admin.key")" "$A/metrics" \
    | awk '/^agentgate_federation_attempts_total/ && !/success/ { s += $2 } END { print s + 0 }')
echo "failed delivery attempts: $failed"
