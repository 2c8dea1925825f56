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
//	script.sh   the step's script
//	env         the step's environment, sourced then deleted before the script starts
//	wrapper.sh  the wrapper that runs script.sh, enforces the timeout and records the result
//	started/    created (atomically, by mkdir) by the one attempt that launches the run
//	pid         pid of the wrapper while the run goes on
//	group       process group of the script, which timeouts and cancels signal
//	stdout, stderr  the script's full output
//	timedout    present if the timeout stopped the script
//	exitcode    the script's exit status, written by rename once it is over
//
// # Protocol
//
// Run opens one session and sends a fixed sh program; the script and its
// environment follow on stdin (one line with the working directory, the env
// file's lines, then the script's bytes, whose count the program checks).
// The program then does exactly one of:
//
//   - exitcode exists: report the result ("collected");
//   - the wrapper still runs: poll until it records the exit code ("attached");
//   - otherwise: prune week-old runs (at most once a day), write the files, claim started/, start
//     the wrapper with setsid (nohup without setsid), stdin from /dev/null,
//     wait for it and report ("launched").
//
// The report is a header line, the run directory and the first StdoutLimit
// bytes of stdout on the session's stdout, and the first StderrLimit bytes
// of stderr on its stderr, so the common case costs a single round trip. A
// wrapper that died without recording an exit code (the node rebooted, or it
// was killed) is reported as ErrInterrupted and never restarted.
//
// When the caller's context is cancelled, Run opens a fresh session that
// sends TERM to the script's process group, then KILL after the grace
// period.
package posix
