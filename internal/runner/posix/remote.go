package posix

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stead-io/stead/internal/runner"
)

// runProgram is the sh program of a run session. It is fixed text: the
// wrapper program arrives as $1 and the day's date (YYYYMMDD) as $2; the
// steps, their scripts and environments arrive on stdin (see payload).
//
// Every node process costs a busy node real time, so the program uses the
// shell's builtins wherever they do: files are read with read and written
// with printf, a file that read cannot take to a newline counts as not yet
// written (so pid, group and exitcode need no rename), outputs of size 0
// cost nothing, and the claim is an exclusive create under set -C.
const runProgram = `# Stead: collect, attach to, or launch each step of a sequence, in order.
wrapper=$1 day=$2
runs="$HOME/.stead/runs"
umask 077
nl='
'

# fail MESSAGE: tell the worker this node cannot run the steps.
fail() {
	printf 'STEAD2 error\n%s\n' "$*"
	exit 0
}

# finished: whether run $d recorded its exit code; sets code.
finished() {
	{ IFS= read -r code <"$d/exitcode"; } 2>/dev/null || return 1
	case $code in '' | *[!0-9]*) return 1 ;; esac
}

# pidof: whether run $d recorded its wrapper's pid; sets p.
pidof() {
	{ IFS= read -r p <"$d/pid"; } 2>/dev/null || return 1
	case $p in '' | *[!0-9]*) return 1 ;; esac
}

# alive PID: whether PID is still the wrapper of run $d. A zombie, or a pid
# reused after a reboot, is not.
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/cmdline" ] || return 0
	case $(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) in
	*" $d/ "*) return 0 ;;
	esac
	return 1
}

# report STATE: print the step's frame: a header, the run directory, then
# the kept stdout and stderr, whose lengths the header gives.
report() {
	state=$1
	[ "$state" = lost ] && code=-1
	t=0
	[ -f "$d/timedout" ] && t=1
	ob=0 eb=0 ok=0 ek=0
	if [ -s "$d/stdout" ]; then
		ob=$(($(wc -c <"$d/stdout")))
		ok=$((ob < outlim ? ob : outlim))
	fi
	if [ -s "$d/stderr" ]; then
		eb=$(($(wc -c <"$d/stderr")))
		ek=$((eb < errlim ? eb : errlim))
	fi
	printf 'STEAD2 %s %s %s %s %s %s %s\n%s\n' "$state" "$code" "$t" "$ob" "$eb" "$ok" "$ek" "$d"
	[ "$ok" -gt 0 ] && head -c "$ok" "$d/stdout"
	[ "$ek" -gt 0 ] && head -c "$ek" "$d/stderr"
	return 0
}

# await PID STATE: wait until the wrapper PID records the exit code.
await() {
	while ! finished; do
		if ! alive "$1"; then
			finished && break
			report lost
			return
		fi
		sleep 0.5 2>/dev/null || sleep 1
	done
	report "$2"
}

# claimed: another attempt launched the run; wait for it to record the pid.
claimed() {
	n=0
	while ! pidof; do
		finished && { report collected; return; }
		[ "$n" -ge 50 ] && { report lost; return; }
		sleep 0.2 2>/dev/null || sleep 1
		n=$((n + 1))
	done
	await "$p" attached
}

# skip: read past the step's payload.
skip() {
	i=$((envlines + scriptlines + 2))
	while [ "$i" -gt 0 ]; do
		IFS= read -r line || fail "the step payload was cut short"
		i=$((i - 1))
	done
}

# launch: read the step's payload, claim the run and start its wrapper.
launch() {
	IFS= read -r wd || fail "the step payload was cut short"
	envtext=
	i=0
	while [ "$i" -lt "$envlines" ]; do
		IFS= read -r line || fail "the step payload was cut short"
		envtext=$envtext$line$nl
		i=$((i + 1))
	done
	# The script goes to a file of this session's own: two racing attempts
	# never write the same file, and only the one that claims the run uses
	# its copy.
	script="$d/script.$$.sh"
	i=0 cut=
	while [ "$i" -lt "$scriptlines" ]; do
		IFS= read -r line || { cut=1; break; }
		i=$((i + 1))
		if [ "$i" -eq "$scriptlines" ] && [ "$partial" = 1 ]; then
			printf '%s' "$line"
		else
			printf '%s\n' "$line"
		fi
	done >"$script" || fail "cannot write the step script in $d"
	[ -z "$cut" ] && IFS= read -r line && [ "$line" = . ] || fail "the step payload was cut short"
	set -C
	if ! { printf '' >"$d/started"; } 2>/dev/null; then
		set +C
		claimed
		return
	fi
	set +C
	if command -v setsid >/dev/null 2>&1; then
		setsid sh -c "$wrapper" stead-run "$d/" "$timeout" "$grace" "$wd" "$sudo" "$script" >/dev/null 2>&1 <<STEAD_ENV_END &
$envtext
STEAD_ENV_END
	else
		nohup sh -c "$wrapper" stead-run "$d/" "$timeout" "$grace" "$wd" "$sudo" "$script" >/dev/null 2>&1 <<STEAD_ENV_END &
$envtext
STEAD_ENV_END
	fi
	w=$!
	wait "$w"
	await "$w" launched
}

# The header: the number of steps, then one line per step.
IFS= read -r steps || fail "the step payload was cut short"
case $steps in '' | *[!0-9]*) fail "bad step count" ;; esac
k=0
while [ "$k" -lt "$steps" ]; do
	IFS= read -r line || fail "the step payload was cut short"
	k=$((k + 1))
	eval "h$k=\$line"
done

# At most once a day (the day the worker names), first prune runs
# untouched for a week, unless still running: scanning every run before
# every step would cost a busy host more than its steps.
if [ -d "$runs" ] && [ ! -f "$runs/.pruned-$day" ]; then
	rm -f "$runs/.pruned" "$runs"/.pruned-*
	printf '' >"$runs/.pruned-$day"
	find "$runs" -mindepth 1 -maxdepth 1 -type d -mtime +7 2>/dev/null |
		while IFS= read -r d; do
			pidof && ! finished && alive "$p" && continue
			rm -rf "$d"
		done
fi

# One mkdir makes every run directory the steps lack.
lack=
k=0
while [ "$k" -lt "$steps" ]; do
	k=$((k + 1))
	eval "set -- \$h$k"
	[ -d "$runs/$1" ] || lack="$lack $1"
done
if [ -n "$lack" ]; then
	set --
	for id in $lack; do set -- "$@" "$runs/$id"; done
	mkdir -p "$@" 2>/dev/null || fail "cannot create run directories in $runs"
fi

k=0
while [ "$k" -lt "$steps" ]; do
	k=$((k + 1))
	eval "set -- \$h$k"
	id=$1 timeout=$2 grace=$3 sudo=$4 outlim=$5 errlim=$6 envlines=$7 scriptlines=$8 partial=$9 cont=${10}
	d="$runs/$id"
	if finished; then
		skip
		report collected
	elif pidof; then
		skip
		await "$p" attached
	elif [ -f "$d/started" ]; then
		skip
		claimed
	else
		launch
	fi
	# Plain success goes on to the next step where the worker allows it;
	# anything else is the worker's to decide.
	[ "$state" != lost ] && [ "$code" = 0 ] && [ "$t" = 0 ] && [ "$cont" = 1 ] || break
done
exit 0
`

// wrapperScript is the wrapper of one run: it runs the step's script in a
// process group of its own, enforces the timeout on the node and records
// the exit code. The script's environment arrives on its stdin.
//
// The timeout costs one sleep process: a CHLD trap stops the sleep when
// the script ends first, and the sleep ending first means the time is up.
// Whether the script has ended is read from /proc, where a zombie shows
// as such; kill -0 stands in on a node without /proc.
const wrapperScript = `# Stead step wrapper. Usage: RUNDIR/ TIMEOUT_SECONDS GRACE_SECONDS WORKDIR SUDO SCRIPT
d=${1%/} limit=$2 grace=$3 wd=$4 sudo=$5 script=$6
cd "$d" || exit 1
# The wrapper records its own pid: whoever reads it then finds this
# program's command line there, never the launcher's nor an exec's.
printf '%s\n' "$$" >pid
# The environment is read from stdin and evaluated, then stdin is closed.
# A script whose first line is #! runs under the interpreter it names, as
# the SSM agent runs the file it writes; any other runs under sh.
# Its arguments: WORKDIR SCRIPT, then setsid where the node has it, so the
# script's process leads a process group of its own, which timeouts and
# cancels signal as a whole.
inner='stead_e=; while IFS= read -r stead_l; do stead_e=$stead_e$stead_l"
"; done; exec </dev/null; set -- "$1" "$2" "$stead_e" "$3"; unset stead_e stead_l; eval "$3" && cd "${1:-$HOME}" && { IFS= read -r stead_first <"$2"; case $stead_first in "#!"*) chmod u+x "$2" && exec $4 "$2";; esac; exec $4 sh "$2"; }'
exec 3<&0 </dev/null
s=
if [ "$limit" -gt 0 ]; then
	sleep "$limit" >/dev/null 2>&1 &
	s=$!
	trap 'kill "$s" 2>/dev/null' CHLD
fi
# The script starts in a subshell of this wrapper, which reads the
# environment and execs the script: no shell is started just for that.
# With sudo, root evaluates the environment and runs the script: sudo
# resets the environment, so the values travel on stdin, never on a
# command line. sudo relays TERM to the script; KILL stops sudo only.
new=
command -v setsid >/dev/null 2>&1 && new=setsid
(
	if [ "$sudo" = 1 ]; then
		exec $new sudo -n -- sh -c "$inner" stead-step "$wd" "$script"
	fi
	set -- "$wd" "$script" "$new"
	eval "$inner"
) <&3 3<&- >stdout 2>stderr &
c=$!
exec 3<&-
printf '%s\n' "$c" >group

# signal SIG: signal the script's process group (without setsid, the script).
signal() { kill -"$1" -"$c" 2>/dev/null || kill -"$1" "$c" 2>/dev/null; }
# ended: whether the script has ended (a zombie has).
ended() {
	if [ -r "/proc/$c/stat" ]; then
		{ IFS= read -r st <"/proc/$c/stat"; } 2>/dev/null || return 0
		case ${st##*") "} in Z*) return 0 ;; esac
		return 1
	fi
	[ -d "/proc/$$" ] && return 0
	! kill -0 "$c" 2>/dev/null
}

if [ -n "$s" ]; then
	while :; do
		wait "$s"
		kill -0 "$s" 2>/dev/null || break
	done
	trap - CHLD
	if ! ended; then
		printf '' >timedout
		signal TERM
		n=0
		while [ "$n" -lt "$grace" ] && ! ended; do
			sleep 1
			n=$((n + 1))
		done
		signal KILL
	fi
fi
wait "$c"
code=$?
printf '%s\n' "$code" >exitcode`

// cancelProgram stops runs: for each run id in its arguments, TERM to the
// script's process group, then KILL once the grace period is over. It
// does nothing to a run that has not started or has ended.
const cancelProgram = `# Stead: stop runs. Usage: GRACETICKS RUNID...
ticks=$1
shift
for id in "$@"; do
	d="$HOME/.stead/runs/$id"
	[ -f "$d/started" ] || continue
	n=0 g=
	while ! { IFS= read -r g <"$d/group"; } 2>/dev/null; do
		[ -f "$d/exitcode" ] && break
		[ "$n" -ge 50 ] && break
		sleep 0.1 2>/dev/null || sleep 1
		n=$((n + 1))
	done
	case $g in '' | *[!0-9]*) continue ;; esac
	[ -f "$d/exitcode" ] && continue
	kill -TERM -"$g" 2>/dev/null || kill -TERM "$g" 2>/dev/null
	n=0
	while [ "$n" -lt "$ticks" ] && { kill -0 -"$g" 2>/dev/null || kill -0 "$g" 2>/dev/null; }; do
		sleep 0.2 2>/dev/null || sleep 1
		n=$((n + 1))
	done
	kill -KILL -"$g" 2>/dev/null || kill -KILL "$g" 2>/dev/null
done
exit 0
`

// runCommand is the command line of a run session on day (YYYYMMDD).
func runCommand(day string) string {
	return "sh -c " + shellQuote(runProgram) + " stead-run " + shellQuote(wrapperScript) + " " + day
}

// payload is what a run session reads on stdin: the number of steps, one
// header line per step (run id, timeout and grace in seconds, sudo, the
// output limits, the env and script line counts, whether the script's
// last line lacks its newline, and whether plain success goes on to the
// next step), then per step its working directory, env lines, script
// lines and a "." that shows the payload arrived whole. Every header
// field is a validated run id or a number; nothing of it is shell code.
func payload(steps []runner.SequenceStep) string {
	var head, body strings.Builder
	fmt.Fprintf(&head, "%d\n", len(steps))
	for _, st := range steps {
		s := st.Spec
		env, envLines := envFile(s.Env)
		script, partial := s.Script, "0"
		if script != "" && !strings.HasSuffix(script, "\n") {
			script, partial = script+"\n", "1"
		}
		fmt.Fprintf(&head, "%s %d %d %s %d %d %d %d %s %s\n", s.RunID, seconds(s.Timeout), seconds(s.KillGrace), flag(s.Sudo),
			s.StdoutLimit, s.StderrLimit, envLines, strings.Count(script, "\n"), partial, flag(st.Continue))
		body.WriteString(s.WorkingDirectory + "\n" + env + script + ".\n")
	}
	return head.String() + body.String()
}

// cancelCommand is the command line that stops the runs of specs.
func cancelCommand(specs []runner.Spec) string {
	grace := int64(0)
	ids := make([]string, len(specs))
	for i, s := range specs {
		grace = max(grace, seconds(s.KillGrace))
		ids[i] = s.RunID
	}
	return "sh -c " + shellQuote(cancelProgram) + " stead-cancel " + strconv.FormatInt(grace*5, 10) + " " + strings.Join(ids, " ")
}

func flag(on bool) string {
	if on {
		return "1"
	}
	return "0"
}
