#!/usr/bin/env bash
# User-space instructions per echo round trip, server side, counted by
# callgrind: ringloop against the hand-written io_uring loop (and any other
# server kind with a --conns mode). Deterministic, unlike times.
#
# Each server runs under callgrind twice, serving CONNS connections that do
# ROUNDS1 and then ROUNDS2 round trips of SIZE bytes; the difference of the
# two totals divided by the difference in round trips cancels start-up and
# shut-down costs.
#
# Usage: benches/callgrind.sh [KIND...]   (default: ringloop uring)
# Env:   CONNS (100) SIZE (128) ROUNDS1 (100) ROUNDS2 (600) KEEP=1 keeps the
#        callgrind.out files (in target/callgrind/) for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
    echo "callgrind.sh: valgrind is not installed (apt-get install valgrind); skipping" >&2
    exit 0
fi
CONNS=${CONNS:-100}
SIZE=${SIZE:-128}
ROUNDS1=${ROUNDS1:-100}
ROUNDS2=${ROUNDS2:-600}
KINDS=("$@")
[ ${#KINDS[@]} -eq 0 ] && KINDS=(ringloop uring)

BIN=$(cargo bench --bench echo --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "callgrind.sh: could not build the echo bench" >&2; exit 1; }
OUT=target/callgrind
mkdir -p "$OUT"

# Total instructions (Ir) of one server run of $2 round trips per connection.
instructions() {
    local kind=$1 rounds=$2 file="$OUT/callgrind.out.$1.$2" log="$OUT/$1.$2.log"
    valgrind --tool=callgrind --callgrind-out-file="$file" \
        "$BIN" --server "$kind" 127.0.0.1:0 --conns "$CONNS" >"$log" 2>"$log.err" &
    local pid=$! addr=""
    for _ in $(seq 1 600); do
        addr=$(sed -n 's/^listening //p' "$log")
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { echo "callgrind.sh: $kind server did not start" >&2; cat "$log.err" >&2; exit 1; }
    "$BIN" --client "$addr" "$CONNS" "$SIZE" "$rounds" >/dev/null
    wait "$pid"
    sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$file"
}

printf '| server | instructions per round trip (%s conns x %s B) |\n|---|---:|\n' "$CONNS" "$SIZE"
for kind in "${KINDS[@]}"; do
    a=$(instructions "$kind" "$ROUNDS1")
    b=$(instructions "$kind" "$ROUNDS2")
    per=$(( (b - a) / (CONNS * (ROUNDS2 - ROUNDS1)) ))
    printf '| %s | %s |\n' "$kind" "$per"
done
[ "${KEEP:-0}" = 1 ] || rm -f "$OUT"/callgrind.out.*
