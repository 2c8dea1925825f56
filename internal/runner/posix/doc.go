// Package posix is the runner (internal/runner) of POSIX nodes: it speaks
// sh through any transport.Communicator.
//
// Its heart is the detached step protocol, which runs one document step on
// a node so that it survives the worker: the step is started as a process
// of its own on the node, its output and exit code go to files in a run
// directory, and any later attempt with the same run id attaches to the
// running step or collects its result instead of starting it again. A run
// id therefore runs its step at most once, however often the worker
// retries, drops the connection or dies.
//
// The node needs only a POSIX sh and the usual coreutils or busybox tools;
// nothing is installed on it. The step's timeout is enforced on the node,
// so it holds with no worker attached. Reading and writing files for steps
// goes through the communicator's Download and Upload (SFTP over SSH).
//
// # Run directory
//
// Each run lives in $HOME/.stead/runs/<RunID>/:
//
//	script.<pid>.sh  the step's script, written by the session that launched it
//	started     created exclusively (set -C) by the one attempt that launches the run
//	pid         pid of the wrapper, written by the wrapper once it runs
//	group       process group of the script, which timeouts and cancels signal
//	stdout, stderr  the script's full output
//	timedout    present if the timeout stopped the script
//	exitcode    the script's exit status, written once it is over
//
// The pid, group and exitcode files are written in place, not renamed: a
// reader takes one only once it holds a whole line, so a half-written file
// reads as not yet written. The step's environment never touches the
// disk: it reaches the script's shell on a pipe.
//
// # Protocol
//
// A session sends a fixed sh program and reads a sequence of steps on
// stdin: a header line per step (run id, timeout, sudo, output limits,
// line counts, whether plain success goes on), then each step's working
// directory, environment and script, framed by line counts and a final
// "." that shows the step arrived whole. Run is a sequence of one step.
// For each step the program does exactly one of:
//
//   - exitcode exists: report the result ("collected");
//   - the wrapper still runs: poll until it records the exit code ("attached");
//   - otherwise: write the script, claim started, start the wrapper with
//     setsid (nohup without setsid), wait for it and report ("launched").
//
// It goes on to the next step only when the step exited 0, did not time
// out and the caller allowed it (runner.Sequencer): every other outcome
// is handed back to the worker, whose flow control decides what runs next.
// A retry sends the steps not reported yet; each attaches or collects as
// above. Once a day (the worker names the day), the program first prunes
// runs untouched for a week, unless still running; one mkdir makes the run
// directories of all the steps.
//
// Each report is a frame on stdout: a header line with the state, exit
// code, whether it timed out, the full output sizes and the kept lengths,
// the run directory, then the first StdoutLimit bytes of stdout and
// StderrLimit bytes of stderr. A wrapper that died without recording an
// exit code (the node rebooted, or it was killed) is reported as
// ErrInterrupted and never restarted.
//
// # Node processes
//
// Each process is a fork and an exec a busy node pays for, so the programs
// use the shell's builtins wherever they do (read, printf, test, kill).
// A one-step `true` starts five processes on the node: the session's sh,
// mkdir, the wrapper, the script's sh and the sleep that times it out
// (four without a timeout); in a session of many steps the sh and the
// mkdir are shared. They execute seven programs: setsid before the wrapper
// and before the script, which a subshell of the wrapper starts without a
// shell of its own in between. A step with output adds wc and head per
// stream for the report. The test TestRunStartsFewNodeProcesses counts
// them.
//
// When the caller's context is cancelled, Run opens a fresh session that
// sends TERM to the script's process group, then KILL after the grace
// period.
package posix
