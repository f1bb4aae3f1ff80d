#!/usr/bin/env bash
# Loopback load test: the same Go load generator drives the no-op ext_proc server (the
# floor) and the policy engine side by side in one run, and prints req/s, p50 and p99
# for both with their ratios (targets: engine >= 85% of the floor's throughput, p99
# <= 1.5x the floor's).
#
#   ENGINE_BIN=output/policy-engine ENGINE_CONFIG=bench/engine-config.yaml bench/load.sh
#
# Environment (defaults in brackets):
#   ENGINE_BIN      engine binary built with the chain's policies; unset: the floor is
#                   compared with a second no-op server, which shows the noise level
#   ENGINE_CONFIG   engine config [bench/engine-config.yaml]
#   ENGINE_ADDR     engine ext_proc address [127.0.0.1:9001]
#   ENGINE_ARGS     engine arguments [serve --config $ENGINE_CONFIG --listen
#                   $ENGINE_ADDR --admin 127.0.0.1:9103 --log-level warn]
#   NOOP_ADDR       no-op server address [127.0.0.1:9101]
#   CONCURRENCY [32]  DURATION [10s per target]  ROUNDS [3]  WARMUP [1s]
#   ROUTE [api]     xds.route_name sent;  HEADERS ["x-api-key=bench-key"] space-separated
#   ENFORCE [0]     1: exit 1 when the engine misses the targets
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}
ENGINE_BIN=${ENGINE_BIN:-}
ENGINE_CONFIG=${ENGINE_CONFIG:-$root/bench/engine-config.yaml}
ENGINE_ADDR=${ENGINE_ADDR:-127.0.0.1:9001}
ENGINE_ARGS=${ENGINE_ARGS:-serve --config $ENGINE_CONFIG --listen $ENGINE_ADDR --admin 127.0.0.1:9103 --log-level warn}
NOOP_ADDR=${NOOP_ADDR:-127.0.0.1:9101}
CONCURRENCY=${CONCURRENCY:-32}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-1s}
ROUTE=${ROUTE:-api}
HEADERS=${HEADERS:-x-api-key=bench-key}
ENFORCE=${ENFORCE:-0}

work=$(mktemp -d)
pids=()
cleanup() {
	# Stop only what this script started, by pid.
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# wait_port HOST:PORT: up to 10 s for a listener.
wait_port() {
	local host=${1%:*} port=${1##*:}
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "load.sh: nothing listening on $1" >&2
	return 1
}

echo "building loadgen and the no-op server..." >&2
(cd "$root/engine" && "$GO" build -o "$work/loadgen" ./bench/loadgen && "$GO" build -o "$work/noop" ./bench/noop)

"$work/noop" --listen "$NOOP_ADDR" 2>"$work/noop.log" &
pids+=($!)
if [[ -n $ENGINE_BIN ]]; then
	name=engine
	# shellcheck disable=SC2086 # ENGINE_ARGS is a word list on purpose
	"$ENGINE_BIN" $ENGINE_ARGS >"$work/engine.log" 2>&1 &
	pids+=($!)
else
	echo "ENGINE_BIN not set: comparing the floor with a second no-op server (noise level)" >&2
	name=noop2
	ENGINE_ADDR=127.0.0.1:9102
	"$work/noop" --listen "$ENGINE_ADDR" 2>"$work/noop2.log" &
	pids+=($!)
fi
wait_port "$NOOP_ADDR"
wait_port "$ENGINE_ADDR" || { cat "$work"/*.log >&2; exit 1; }

args=(--target "noop=$NOOP_ADDR" --target "$name=$ENGINE_ADDR" --concurrency "$CONCURRENCY"
	--duration "$DURATION" --rounds "$ROUNDS" --warmup "$WARMUP" --route "$ROUTE")
for h in $HEADERS; do args+=(--header "$h"); done
[[ $ENFORCE == 1 ]] && args+=(--enforce)
echo "loadgen ${args[*]}" >&2
"$work/loadgen" "${args[@]}"
