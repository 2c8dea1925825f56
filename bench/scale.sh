#!/bin/sh
# One execution over N cheap targets (local-transport nodes, each running
# `true` on this machine), to check that no workflow history grows with the
# fleet and to measure time and memory: `make bench-scale` (N=10000).
# Prints wall times, peak RSS of the server and the worker, and the longest
# history in the namespace.
set -eu
cd "$(dirname "$0")/.."
n=${1:-10000}
conc=${2:-200}
port=7399
dir=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

bin/stead dev --data-dir "$dir/data" --port "$port" --ui-port -1 --no-local-node --no-worker >"$dir/server.log" 2>&1 &
server=$!
pids="$server"
export TEMPORAL_ADDRESS="127.0.0.1:$port" STEAD_CODEC_KEY_FILE="$dir/data/codec.key"
i=0
until [ -f "$STEAD_CODEC_KEY_FILE" ] && bin/stead node list >/dev/null 2>&1; do
	i=$((i + 1)); [ "$i" -lt 120 ] || { echo "server did not start"; cat "$dir/server.log"; exit 1; }
	sleep 1
done
bin/stead worker --output-dir "$dir/output" --max-concurrent-steps "$conc" --log-level warn >"$dir/worker.log" 2>&1 &
worker=$!
pids="$worker $pids"

peak() { # peak VmRSS in MB of a pid, sampled every second while a file exists
	p=0
	while [ -f "$dir/sampling" ]; do
		v=$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
		[ "${v:-0}" -gt "$p" ] && p=$v
		sleep 1
	done
	echo $((p / 1024))
}

awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "- id: s%05d\n  transport: local\n  tags: {scale: \"yes\"}\n", i }' >"$dir/nodes.yaml"
start=$(date +%s)
bin/stead node import "$dir/nodes.yaml"
echo "import of $n nodes: $(( $(date +%s) - start )) s"

touch "$dir/sampling"
peak "$server" >"$dir/server.peak" &
peak "$worker" >"$dir/worker.peak" &
start=$(date +%s)
bin/stead association create --name scale --document Stead-RunShellScript \
	--targets Key=tag:scale,Values=yes --parameters commands=true \
	--max-concurrency "$conc" --max-errors 0 --wait >"$dir/create.log" 2>&1 || { tail -20 "$dir/create.log"; exit 1; }
took=$(( $(date +%s) - start ))
rm -f "$dir/sampling"
wait "$(jobs -p | tail -n 2 | head -n 1)" 2>/dev/null || true
sleep 2
tail -n 1 "$dir/create.log"
echo "execution over $n targets at --max-concurrency $conc: $took s"
echo "peak RSS: server $(cat "$dir/server.peak") MB, worker $(cat "$dir/worker.peak") MB"
go run ./bench/cmd/steadhist -address "$TEMPORAL_ADDRESS" -largest
