#!/bin/sh
# Runs Stead's benchmark against Ansible and the raw-SSH floor on loopback
# hosts and rewrites its section of BENCHMARKS.md. `make bench` calls it
# after building bin/stead; extra arguments go to steadbench (see
# `go run ./bench/cmd/steadbench -h`), e.g. `./bench/run.sh -reps 5`.
# Needs root: it starts sshd and creates the test user.
set -eu
cd "$(dirname "$0")/.."

missing=""
need_ansible=yes
for arg in "$@"; do [ "$arg" = -skip-ansible ] && need_ansible=; done
[ -z "$need_ansible" ] || command -v ansible >/dev/null 2>&1 || missing="$missing ansible"
[ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
if [ -n "$missing" ]; then
	echo "bench: installing$missing" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT INT TERM
go build -o "$tools/sshfloor" ./bench/cmd/sshfloor
go build -o "$tools/steadbench" ./bench/cmd/steadbench
cmd="make bench"
[ $# -gt 0 ] && cmd="make build && ./bench/run.sh $*"
"$tools/steadbench" -stead bin/stead -floor "$tools/sshfloor" -out BENCHMARKS.md -command "$cmd" "$@"
