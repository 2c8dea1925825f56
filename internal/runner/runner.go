package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stead-io/stead/internal/transport"
)

// Runner carries out Stead's work on the nodes of one platform, in that
// platform's shell, over whatever Communicator reaches the node. It owns
// the detached step protocol (a run directory per run id, so that a retry
// attaches to or collects a run instead of starting it again), rebooting
// and telling boots apart, and reading and writing files for steps. A
// Runner holds no connection; it is safe for concurrent use.
type Runner interface {
	// Shell is the shell a Spec's script is written for: the documents'
	// name for it ("sh", "powershell").
	Shell() string
	// Run runs spec's step on the node behind c and waits for its result.
	// If a run with spec.RunID already exists on the node, Run attaches to
	// it or collects its result instead of starting the script again, so
	// callers can retry Run freely after a dropped connection or a worker
	// crash. A run whose process vanished before it recorded an exit code
	// is an error wrapping ErrInterrupted, and is never started again.
	//
	// The timeout is enforced on the node, so it holds with no worker
	// attached. heartbeat, if not nil, is called every few seconds from
	// another goroutine while Run waits, never after Run returns.
	// Cancelling ctx stops the script on the node (TERM, then KILL after
	// spec.KillGrace, or the platform's equivalent) and returns ctx.Err().
	Run(ctx context.Context, c transport.Communicator, spec Spec, heartbeat func()) (Result, error)
	// Fetch copies the first limit bytes of a run's full stdout or stderr
	// from the node's run directory to w, so a caller can keep more of the
	// output than a Result holds. It returns the bytes written and the
	// stream's full size on the node.
	Fetch(ctx context.Context, c transport.Communicator, runID string, stream Stream, limit int64, w io.Writer) (written, size int64, err error)
	// Reboot records the node's boot id in r.RunID's run directory, then
	// reboots the node, and returns the boot id it rebooted from. If the
	// run directory already records a boot id other than the current one,
	// the reboot happened (an earlier attempt issued it): the node is not
	// rebooted again. The connection dropping as the node goes down is
	// success; a reboot that cannot be issued is an error wrapping
	// ErrRebootFailed.
	Reboot(ctx context.Context, c transport.Communicator, r Reboot) (bootID string, err error)
	// BootID returns the node's current boot id, printed by command ("":
	// the runner's default), with white space removed.
	BootID(ctx context.Context, c transport.Communicator, command string) (string, error)
	// ReadFile returns the first limit bytes of a file on the node, read as
	// the login user; a relative path is relative to the login's home.
	// Errors wrap fs.ErrNotExist, fs.ErrPermission or
	// transport.ErrNotRegular when the file is missing, unreadable or not a
	// regular file.
	ReadFile(ctx context.Context, c transport.Communicator, path string, limit int64) ([]byte, error)
	// Upload writes r to dest on the node, as the login user, for a step to
	// use; a relative dest is relative to the login's home. It returns the
	// absolute path written.
	Upload(ctx context.Context, c transport.Communicator, dest string, r io.Reader, perm os.FileMode) (string, error)
}

// Sequencer is a Runner that can run several steps in one session, so a
// document's steps cost no round trip each. Flow control stays with the
// caller: the node goes on to the next step only after plain success (exit
// code 0, not timed out) of a step whose Continue is set, and hands back
// at any other outcome. Each step keeps its own run id and run directory,
// so a retry of the remaining steps attaches to or collects each as Run
// would.
type Sequencer interface {
	// RunSequence runs steps in order and returns the results of those
	// the node reported, in order: fewer than len(steps) when a step
	// handed back, or when the session ended early, which is an error.
	// A step interrupted before it recorded an exit code is the last
	// result, with an error wrapping ErrInterrupted. reported, if not nil,
	// is called with each step's index as its result arrives.
	// Cancelling ctx stops the steps not reported yet.
	RunSequence(ctx context.Context, c transport.Communicator, steps []SequenceStep, heartbeat func(), reported func(i int)) ([]Result, error)
}

// SequenceStep is one step of a sequence.
type SequenceStep struct {
	Spec Spec
	// Continue lets the node go on to the next step after this one
	// exits 0 without timing out.
	Continue bool
}

// Spec describes one step to run on one node.
type Spec struct {
	// RunID names the run directory; it must be unique per (execution,
	// node, step, attempt) and is what makes retries attach instead of
	// re-running. Letters, digits, '.', '_' and '-' only.
	RunID string
	// Script is the step's script, in the runner's Shell.
	Script string
	// Env is the script's extra environment. Values are data: they reach
	// the script verbatim and are never parsed as shell code.
	Env []EnvVar
	// WorkingDirectory is where the script starts; "" means the login
	// user's home directory.
	WorkingDirectory string
	// Timeout bounds the script's run time, enforced on the node; 0 means
	// no limit. Sub-second precision is not kept: it is rounded up to
	// whole seconds.
	Timeout time.Duration
	// KillGrace is how long a timed-out or cancelled script has between
	// the polite stop and the forced one; 0 means DefaultKillGrace.
	KillGrace time.Duration
	// StdoutLimit and StderrLimit are how many bytes of each stream Result
	// keeps; 0 means DefaultStdoutLimit and DefaultStderrLimit. The full
	// streams stay in the run directory.
	StdoutLimit, StderrLimit int
	// Sudo runs the script with elevated rights (on POSIX, `sudo -n`: root,
	// no password prompt; it fails at once if the login user may not). The
	// run directory and the output files stay the login user's.
	Sudo bool
}

// EnvVar is one environment variable for the script.
type EnvVar struct {
	// Name is a shell variable name.
	Name string
	// Value is passed verbatim; it must not contain NUL.
	Value string
}

// Defaults for Spec fields left zero. The output limits match what SSM
// keeps of a command's output.
const (
	DefaultStdoutLimit = 24000
	DefaultStderrLimit = 8000
	DefaultKillGrace   = 5 * time.Second
)

// Result is the outcome of one run.
type Result struct {
	// ExitCode is the script's exit status (128+n if signal n ended it on
	// POSIX); -1 if the run was interrupted before it recorded one.
	ExitCode int
	// TimedOut is set when the timeout stopped the script.
	TimedOut bool
	// Stdout and Stderr are the first StdoutLimit/StderrLimit bytes of the
	// script's output, cut at a UTF-8 character boundary.
	Stdout, Stderr string
	// StdoutTruncated and StderrTruncated tell that more output exists in
	// the run directory than Stdout and Stderr hold.
	StdoutTruncated, StderrTruncated bool
	// StdoutBytes and StderrBytes are the full sizes of the output on the node.
	StdoutBytes, StderrBytes int64
	// Resumed is set when the result comes from a run an earlier attempt
	// started, by collecting it or by attaching to it.
	Resumed bool
	// RunDir is the run directory on the node, where the full output stays.
	RunDir string
}

// Stream names one of the output streams a run keeps in its directory.
type Stream string

// Streams a run keeps, which Fetch can read back.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Reboot describes the reboot a step asked for.
type Reboot struct {
	// RunID is the run of the step that asked; its run directory records
	// the boot the node is rebooted from, so a retry does not reboot twice.
	RunID string
	// Command reboots the node; "" means the runner's default.
	Command string
	// BootIDCommand prints an id that changes on every boot; "" means the
	// runner's default.
	BootIDCommand string
	// Sudo issues the reboot with elevated rights, as Spec.Sudo.
	Sudo bool
}

// ErrInterrupted reports a run whose process vanished without recording an
// exit code, typically because the node rebooted. The step is not started
// again: it may have done part of its work. Retry with a new RunID to run
// it anew.
var ErrInterrupted = errors.New("the run was interrupted before it recorded an exit code")

// ErrRebootFailed reports a reboot the node refused, or whose boot id could
// not be read: trying again would fail the same way.
var ErrRebootFailed = errors.New("reboot failed")

// ErrNoRunner reports a node platform the worker has no Runner for.
var ErrNoRunner = errors.New("no runner for platform")

// Registry picks the Runner for a node by its platform ("linux",
// "windows"). A worker builds one with the runners it has.
type Registry struct {
	runners map[string]Runner
}

// NewRegistry returns a Registry of runners by node platform.
func NewRegistry(byPlatform map[string]Runner) *Registry {
	return &Registry{runners: maps.Clone(byPlatform)}
}

// For returns the Runner for platform, or an error wrapping ErrNoRunner
// that names the platform. A nil Registry has no runners.
func (r *Registry) For(platform string) (Runner, error) {
	var runners map[string]Runner
	if r != nil {
		runners = r.runners
	}
	if rn, ok := runners[platform]; ok {
		return rn, nil
	}
	have := strings.Join(slices.Sorted(maps.Keys(runners)), ", ")
	if have == "" {
		have = "none"
	}
	return nil, fmt.Errorf("%w %s on this worker (it has: %s)", ErrNoRunner, platform, have)
}
