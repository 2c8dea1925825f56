// Package runner is the seam between what Stead does on a node and how the
// node does it. Two questions decide how a step reaches a node, and they
// are independent:
//
//   - how the worker talks to the node: a transport.Communicator (SSH, the
//     worker's own host, later WinRM), chosen by the node's transport name
//     from a transport.Registry and lent by a transport.Pool, which keeps
//     connections open between steps;
//   - what the node speaks: a Runner (POSIX sh, later PowerShell), chosen
//     by the node's platform from a Registry.
//
// A Windows host may be reached over WinRM or over OpenSSH; a Linux host
// over SSH or, for the worker's own host, locally. Everything above this
// package (activities, workflows) loads a node, asks the Registry for its
// Runner and the pool for a Communicator, and calls the Runner with it:
// no code there knows a protocol or a shell. Only the Runner writes shell
// code, and only the Communicator knows the wire.
//
// A Runner owns everything that needs the node's shell: the detached step
// protocol (a run directory per run id with pid, stdout, stderr and exit
// code, so a retry attaches to a running run or collects a finished one;
// the timeout enforced on the node; the step killed on cancel), reboots
// and boot ids, reading a file for a step and writing one, and quoting
// values for its shell. Its methods take the Communicator to work through,
// so one Runner value serves every node of its platform.
//
// A Runner that is also a Sequencer (POSIX) runs a run of a document's
// plain steps in one session: the node goes on to the next step only after
// plain success the caller allows, so every flow-control decision stays
// with the caller (activities), which gets one report per step and runs
// anything else one step per call.
//
// A platform with no Runner fails a step at once with an error wrapping
// ErrNoRunner ("no runner for platform windows on this worker (it has:
// linux)"), which activities report as a non-retryable InvalidTarget.
//
// # Windows
//
// WinRM is a Protocol of its own (internal/transport/winrm), registered
// under "winrm" next to "ssh" and "local"; PowerShell is the Runner of the
// "windows" platform (internal/runner/powershell), registered in
// worker.DefaultRunners. Neither changed anything in activities or
// workflows: the seam test in package worker plugs fake ones in to show
// that is enough, and internal/testwinrm is a fake Windows host both are
// tested against, over WinRM and behind a real sshd (a Windows node over
// OpenSSH: the same PowerShell runner through the SSH communicator).
package runner
