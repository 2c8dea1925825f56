#!/bin/sh
# Runs steadbench's fan-out against Temporal as production runs it: a
# temporal-server on PostgreSQL (bench/cmd/steadprod, from make
# temporal-bin), and prints the table; then the same cases against `stead
# dev` under the same conditions, for comparison. `make bench-prod` calls it
# after building bin/stead. Needs root (sshd, PostgreSQL's own user).
# Extra arguments go to steadbench, e.g. `./bench/prod.sh -reps 5`.
set -eu
cd "$(dirname "$0")/.."
: "${STEAD_TEMPORAL_BIN:?set it to the directory make temporal-bin built}"
export STEAD_TEMPORAL_BIN

tools=$(mktemp -d)
chmod 755 "$tools"
stack=""
trap '[ -n "$stack" ] && kill "$stack" 2>/dev/null; wait; rm -rf "$tools"' EXIT INT TERM
go build -o "$tools/sshfloor" ./bench/cmd/sshfloor
go build -o "$tools/steadbench" ./bench/cmd/steadbench
go build -o "$tools/steadprod" ./bench/cmd/steadprod

"$tools/steadprod" -shards "${SHARDS:-4}" > "$tools/stack.out" &
stack=$!
while ! grep -q '^frontend=' "$tools/stack.out"; do
	kill -0 "$stack" 2>/dev/null || { echo "steadprod exited" >&2; exit 1; }
	sleep 1
done
frontend=$(sed -n 's/^frontend=\([^ ]*\) .*/\1/p' "$tools/stack.out")
pid=$(sed -n 's/.*server-pid=\([0-9]*\).*/\1/p' "$tools/stack.out")
echo "== against temporal-server on PostgreSQL: $(cat "$tools/stack.out")"
"$tools/steadbench" -stead bin/stead -floor "$tools/sshfloor" -out "" -skip-ansible -hosts 200 -cases fanout200 \
	-server-pprof "" -temporal-address "$frontend" -server-pid "$pid" "$@"
echo "== against stead dev"
"$tools/steadbench" -stead bin/stead -floor "$tools/sshfloor" -out "" -skip-ansible -hosts 200 -cases fanout200 "$@"
