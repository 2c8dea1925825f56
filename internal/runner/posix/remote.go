package posix

import (
	"strconv"
	"strings"

	"github.com/stead-io/stead/internal/runner"
)

// runProgram is the sh program of Run's single session. The @NAME@
// placeholders are filled with validated or numeric values only; the
// script, its environment and working directory arrive on stdin.
const runProgram = `# Stead: collect, attach to, or launch run @RUNID@.
runs="$HOME/.stead/runs"
d="$runs/@RUNID@"
umask 077

# fail MESSAGE: tell the worker this node cannot run the step.
fail() {
	printf 'STEAD1 error\n%s\n' "$*"
	exit 0
}

# alive DIR PID: whether PID is still the wrapper of run DIR. A zombie, or a
# pid reused after a reboot, is not.
alive() {
	case $2 in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$2" 2>/dev/null || return 1
	[ -r "/proc/$2/cmdline" ] || return 0
	case $(cat "/proc/$2/cmdline" 2>/dev/null) in
	*"$1/wrapper.sh"*) return 0 ;;
	esac
	return 1
}

# report STATE: print the header, then the kept output on stdout and stderr.
report() {
	code=-1
	[ -f "$d/exitcode" ] && code=$(cat "$d/exitcode")
	timedout=0
	[ -f "$d/timedout" ] && timedout=1
	outbytes=0
	errbytes=0
	[ -f "$d/stdout" ] && outbytes=$(($(wc -c <"$d/stdout")))
	[ -f "$d/stderr" ] && errbytes=$(($(wc -c <"$d/stderr")))
	printf 'STEAD1 %s %s %s %s %s\n%s\n' "$1" "$code" "$timedout" "$outbytes" "$errbytes" "$d"
	[ -f "$d/stdout" ] && head -c @OUTLIMIT@ "$d/stdout"
	[ -f "$d/stderr" ] && head -c @ERRLIMIT@ "$d/stderr" >&2
	exit 0
}

# await PID STATE: wait until the wrapper PID records the exit code.
await() {
	while [ ! -f "$d/exitcode" ]; do
		if ! alive "$d" "$1"; then
			[ -f "$d/exitcode" ] && break
			report lost
		fi
		sleep 0.5 2>/dev/null || sleep 1
	done
	report "$2"
}

# claimed: another attempt launched the run; wait for it to record the pid.
claimed() {
	n=0
	while [ ! -f "$d/pid" ]; do
		[ -f "$d/exitcode" ] && report collected
		[ "$n" -ge 50 ] && report lost
		sleep 0.2 2>/dev/null || sleep 1
		n=$((n + 1))
	done
	await "$(cat "$d/pid")" attached
}

[ -f "$d/exitcode" ] && report collected
[ -f "$d/pid" ] && await "$(cat "$d/pid")" attached
[ -d "$d/started" ] && claimed

# Launch. At most once a day, first prune runs untouched for a week,
# unless still running: scanning every run before every step would cost a
# busy host more than its steps.
if [ -d "$runs" ] && { [ ! -f "$runs/.pruned" ] || [ -n "$(find "$runs/.pruned" -mmin +1440 2>/dev/null)" ]; }; then
	touch "$runs/.pruned"
	find "$runs" -mindepth 1 -maxdepth 1 -type d -mtime +7 2>/dev/null |
		while IFS= read -r old; do
			[ -f "$old/pid" ] && [ ! -f "$old/exitcode" ] && alive "$old" "$(cat "$old/pid")" && continue
			rm -rf "$old"
		done
fi
mkdir -p "$d" 2>/dev/null || fail "cannot create run directory $d"
tmp=".tmp.$$"
IFS= read -r wd || fail "the step payload was cut short"
: >"$d/env$tmp" || fail "cannot write to run directory $d"
i=0
while [ "$i" -lt @ENVLINES@ ]; do
	IFS= read -r line || fail "the step payload was cut short"
	printf '%s\n' "$line" >>"$d/env$tmp"
	i=$((i + 1))
done
cat >"$d/script$tmp" || fail "cannot write the step script"
[ "$(($(wc -c <"$d/script$tmp")))" -eq @SCRIPTBYTES@ ] || fail "the step payload was cut short"
cat >"$d/wrapper$tmp" <<'STEAD_WRAPPER_END'
@WRAPPER@
STEAD_WRAPPER_END
mv -f "$d/env$tmp" "$d/env" && mv -f "$d/script$tmp" "$d/script.sh" &&
	mv -f "$d/wrapper$tmp" "$d/wrapper.sh" || fail "cannot write the step files"
mkdir "$d/started" 2>/dev/null || claimed
if command -v setsid >/dev/null 2>&1; then
	setsid sh "$d/wrapper.sh" "$d" @TIMEOUT@ @GRACE@ "$wd" @SUDO@ </dev/null >/dev/null 2>&1 &
else
	nohup sh "$d/wrapper.sh" "$d" @TIMEOUT@ @GRACE@ "$wd" @SUDO@ </dev/null >/dev/null 2>&1 &
fi
w=$!
echo "$w" >"$d/pid$tmp" && mv -f "$d/pid$tmp" "$d/pid"
wait "$w"
await "$w" launched
`

// wrapperScript is wrapper.sh: it runs one step's script in a process
// group of its own, enforces the timeout on the node and records the exit
// code atomically.
const wrapperScript = `# Stead step wrapper. Usage: wrapper.sh RUNDIR TIMEOUT_SECONDS GRACE_SECONDS WORKDIR SUDO
d=$1 limit=$2 grace=$3 wd=$4 sudo=$5
cd "$d" || exit 1
# A script whose first line is #! runs under the interpreter it names, as
# the SSM agent runs the file it writes; any other runs under sh.
inner='. "$1" && { rm -f "$1"; cd "${2:-$HOME}" && { IFS= read -r first <"$3"; case $first in "#!"*) chmod u+x "$3" && exec "$3";; esac; exec sh "$3"; }; }'
step=$inner
# With sudo, root sources the env file and runs the script: sudo resets the
# environment, so the values travel in the file, never on a command line.
# sudo relays TERM to the script; KILL stops sudo only.
[ "$sudo" = 1 ] && step='exec sudo -n -- sh -c "$4" stead-step "$1" "$2" "$3"'
if command -v setsid >/dev/null 2>&1; then
	setsid sh -c "$step" stead-step "$d/env" "$wd" "$d/script.sh" "$inner" </dev/null >stdout 2>stderr &
else
	sh -c "$step" stead-step "$d/env" "$wd" "$d/script.sh" "$inner" </dev/null >stdout 2>stderr &
fi
c=$!
echo "$c" >group.tmp && mv -f group.tmp group

# signal SIG: signal the script's process group (without setsid, the script).
signal() { kill -"$1" -"$c" 2>/dev/null || kill -"$1" "$c" 2>/dev/null; }
# running: whether anything of the script is left.
running() { kill -0 -"$c" 2>/dev/null || kill -0 "$c" 2>/dev/null; }

watchdog=
if [ "$limit" -gt 0 ]; then
	(
		end=$(($(date +%s) + limit))
		while kill -0 "$c" 2>/dev/null; do
			if [ "$(date +%s)" -ge "$end" ]; then
				: >timedout
				signal TERM
				end=$(($(date +%s) + grace))
				while running && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
				signal KILL
				exit 0
			fi
			sleep 1
		done
	) </dev/null >/dev/null 2>&1 &
	watchdog=$!
fi
wait "$c"
code=$?
if [ -n "$watchdog" ]; then
	if [ -f timedout ]; then wait "$watchdog"; else kill "$watchdog" 2>/dev/null; fi
fi
rm -f env
echo "$code" >exitcode.tmp && mv -f exitcode.tmp exitcode`

// cancelProgram stops a run: TERM to the script's process group, then KILL
// once the grace period is over. It does nothing to a run that has ended.
const cancelProgram = `# Stead: stop run @RUNID@.
d="$HOME/.stead/runs/@RUNID@"
[ -d "$d/started" ] || exit 0
n=0
while [ ! -f "$d/group" ]; do
	[ -f "$d/exitcode" ] && exit 0
	[ "$n" -ge 50 ] && exit 0
	sleep 0.1 2>/dev/null || sleep 1
	n=$((n + 1))
done
g=$(cat "$d/group")
case $g in '' | *[!0-9]*) exit 0 ;; esac
[ -f "$d/exitcode" ] && exit 0
kill -TERM -"$g" 2>/dev/null || kill -TERM "$g" 2>/dev/null
n=0
while [ "$n" -lt @GRACETICKS@ ] && { kill -0 -"$g" 2>/dev/null || kill -0 "$g" 2>/dev/null; }; do
	sleep 0.2 2>/dev/null || sleep 1
	n=$((n + 1))
done
kill -KILL -"$g" 2>/dev/null || kill -KILL "$g" 2>/dev/null
exit 0
`

// runCommand is the command line of Run's session for s, whose env file
// has envLines lines.
func runCommand(s runner.Spec, envLines int) string {
	program := strings.NewReplacer(
		"@RUNID@", s.RunID,
		"@OUTLIMIT@", strconv.Itoa(s.StdoutLimit),
		"@ERRLIMIT@", strconv.Itoa(s.StderrLimit),
		"@ENVLINES@", strconv.Itoa(envLines),
		"@SCRIPTBYTES@", strconv.Itoa(len(s.Script)),
		"@TIMEOUT@", strconv.FormatInt(seconds(s.Timeout), 10),
		"@GRACE@", strconv.FormatInt(seconds(s.KillGrace), 10),
		"@SUDO@", sudoFlag(s.Sudo),
		"@WRAPPER@", wrapperScript,
	).Replace(runProgram)
	return "sh -c " + shellQuote(program)
}

// cancelCommand is the command line that stops s's run.
func cancelCommand(s runner.Spec) string {
	program := strings.NewReplacer(
		"@RUNID@", s.RunID,
		"@GRACETICKS@", strconv.FormatInt(seconds(s.KillGrace)*5, 10),
	).Replace(cancelProgram)
	return "sh -c " + shellQuote(program)
}

func sudoFlag(on bool) string {
	if on {
		return "1"
	}
	return "0"
}
