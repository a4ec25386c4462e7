#!/usr/bin/env bash
# Prints the exit code of each way out of natschaos (a markdown table): make exit-codes.
set -u
BIN=${BIN:-bin/natschaos}
T=$(mktemp -d)
cd "$(dirname "$0")/.."
row() { local what="$1"; shift; "$@" >"$T/out" 2>&1; local rc=$?; printf '| %s | `%s` | %d | %s |\n' "$what" "$(echo "$*" | sed "s#$BIN#natschaos#; s#$T#\$T#g")" "$rc" "$(grep -v '^\s*$' "$T/out" | tail -1 | cut -c1-110 | sed 's/|/\\|/g')"; }
{ printf '{"t":0.1,"kind":"config","x":"'; head -c 2097152 /dev/zero | tr '\0' a; printf '"}\n'; } > "$T/long.jsonl"
printf 'name: big\nworkload:\n  workers: 100000\n' > "$T/workers.yaml"
row "PASS" $BIN run -s baseline --out "$T/r1"
row "FAIL" $BIN run -s batch-reserve-incident --variant reserve-one-by-one --out "$T/r2"
row "unknown subcommand" $BIN nosuch
row "wrong argument count" $BIN check
row "unknown scenario" $BIN run -s nosuch --out "$T/r3"
row "missing history" $BIN check /missing.jsonl
row "bad --api-url" $BIN run --api-url ftp://x --nats-url nats://127.0.0.1:1 --out "$T/r4"
row "--proxy without a port" $BIN run --api-url http://127.0.0.1:1 --nats-url nats://127.0.0.1:1 --proxy api-nats=127.0.0.1 --out "$T/r5"
row "--job-id without --observe-publishes" $BIN run --api-url http://127.0.0.1:1 --nats-url nats://127.0.0.1:1 --job-id 5 --out "$T/r6"
row "--time-scale 0" $BIN run -s baseline --time-scale 0 --out "$T/r7"
row "scenario workers: 100000" $BIN run -s "$T/workers.yaml" --out "$T/r8"
row "history line over 1 MiB" $BIN check "$T/long.jsonl"
row "history without end (killed run)" $BIN check chaos/check/testdata/no-loss/unknown-no-drain.jsonl
row "tasks in flight at the end" $BIN check chaos/check/testdata/no-loss/unknown-in-flight.jsonl
row "tasks in flight at the end (with end)" $BIN check chaos/check/testdata/no-loss/unknown-in-flight-at-end.jsonl
row "workers never asked for tasks" $BIN check chaos/check/testdata/run/no-calls.jsonl
row "every /tasks timed out from the start" $BIN check chaos/check/testdata/run/errors-timeout-from-start.jsonl
row "foreign advisory masking a lost task" $BIN check chaos/check/testdata/no-loss/fail-foreign-advisory.jsonl
# SIGTERM during a run
$BIN run -s nats-down --out "$T/r9" >"$T/out" 2>&1 & pid=$!
sleep 3; kill -TERM $pid; wait $pid; rc=$?
printf '| %s | `%s` | %d | %s |\n' "SIGTERM during chaos" "natschaos run -s nats-down; kill -TERM after 3 s" $rc "$(grep -v '^\s*$' "$T/out" | tail -1 | cut -c1-110)"
for d in r3 r4 r5 r6 r7 r8; do [ -e "$T/$d" ] && echo "UNEXPECTED: results dir $d was made"; done
rm -rf "$T"

