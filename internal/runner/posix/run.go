package posix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/transport"
)

// heartbeatInterval is how often Run calls heartbeat while it waits.
var heartbeatInterval = 5 * time.Second

// stopTimeout bounds the session that stops a cancelled run.
const stopTimeout = 30 * time.Second

// Run implements runner.Runner: one session sends the run program (see
// the package documentation), which collects, attaches to or launches the
// run. Cancelling ctx sends TERM to the script's process group over a
// fresh session, then KILL after the grace period.
func (Runner) Run(ctx context.Context, conn transport.Communicator, spec runner.Spec, heartbeat func()) (runner.Result, error) {
	spec, err := normalize(spec)
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w", spec.RunID, err)
	}
	env, envLines := envFile(spec.Env)
	payload := spec.WorkingDirectory + "\n" + env + spec.Script

	stopBeating := runner.Beat(heartbeat, heartbeatInterval)
	// The program sends at most the limits plus a header; a node that sends more (it
	// controls its end of the session) must not make the worker hold it all.
	stdout := &runner.Capped{Max: spec.StdoutLimit + runner.ReplySlack}
	stderr := &runner.Capped{Max: spec.StderrLimit + runner.ReplySlack}
	code, err := conn.Run(ctx, runCommand(spec, envLines), strings.NewReader(payload), stdout, stderr)
	stopBeating()

	if ctx.Err() != nil {
		if stopErr := stop(conn, spec); stopErr != nil {
			return runner.Result{}, errors.Join(ctx.Err(), stopErr)
		}
		return runner.Result{}, ctx.Err()
	}
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w", spec.RunID, err)
	}
	res, state, err := runner.ParseReply(stdout.Bytes(), stderr.Bytes(), spec)
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w (exit status %d)", spec.RunID, err, code)
	}
	if state == "lost" {
		return res, fmt.Errorf("run step %s in %s: %w", spec.RunID, res.RunDir, runner.ErrInterrupted)
	}
	return res, nil
}

// stop kills a cancelled run on the node over a fresh session, which
// outlives the cancelled context for up to stopTimeout.
func stop(conn transport.Communicator, spec runner.Spec) error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var stderr bytes.Buffer
	code, err := conn.Run(ctx, cancelCommand(spec), nil, nil, &stderr)
	if err != nil {
		return fmt.Errorf("stop run %s: %w", spec.RunID, err)
	}
	if code != 0 {
		return fmt.Errorf("stop run %s: exit status %d: %s", spec.RunID, code, runner.FirstLine(stderr.Bytes()))
	}
	return nil
}
