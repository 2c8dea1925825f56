package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/runner"
)

// Error types of reboot failures.
const (
	// ErrRebootFailed: the reboot command refused to reboot the node.
	ErrRebootFailed = "RebootFailed"
	// ErrRebootTimedOut: the node did not come back with a new boot id in
	// its reboot timeout.
	ErrRebootTimedOut = "RebootTimedOut"
)

// RebootInput asks for a node's reboot after the step run RunID requested it.
type RebootInput struct {
	NodeID string `json:"nodeId"`
	RunID  string `json:"runId"`
}

// RebootResult is the boot before the reboot, and how long the node may
// take to come back.
type RebootResult struct {
	BootID         string `json:"bootId"`
	TimeoutSeconds int    `json:"timeoutSeconds"`
}

// AwaitBootInput waits for a node to run a boot other than BootID.
type AwaitBootInput struct {
	NodeID string    `json:"nodeId"`
	BootID string    `json:"bootId"`
	Until  time.Time `json:"until"`
}

// rebootIssueTimeout bounds the session that issues the reboot.
const rebootIssueTimeout = 60 * time.Second

// rebootNodeOn reboots the node n, whose step asked for it (exit code 194
// or 3010), and returns the boot id it had before, for awaitBootOn. The
// connection dropping as the node goes down is the expected outcome; a
// reboot command that exits non-zero with the connection still up failed.
func (a *Activities) rebootNodeOn(ctx context.Context, n node.Node, in RebootInput) (RebootResult, error) {
	res := RebootResult{TimeoutSeconds: n.RebootTimeoutSeconds}
	if res.TimeoutSeconds <= 0 {
		res.TimeoutSeconds = node.DefaultRebootTimeoutSeconds
	}
	rn, err := a.runnerFor(n)
	if err != nil {
		return res, err
	}
	conn, err := a.connect(ctx, n)
	if err != nil {
		return res, err
	}
	t := nodeTarget(n)
	defer a.Nodes.Drop(t)
	defer conn.Close()
	rctx, cancel := context.WithTimeout(ctx, rebootIssueTimeout)
	defer cancel()
	bootID, err := rn.Reboot(rctx, conn, runner.Reboot{
		RunID: in.RunID, Command: n.RebootCommand, BootIDCommand: n.BootIDCommand, Sudo: n.Sudo,
	})
	switch {
	case errors.Is(err, runner.ErrRebootFailed):
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("node %s: %v", n.ID, err), ErrRebootFailed, nil)
	case err != nil:
		return res, fmt.Errorf("reboot node %s: %w", n.ID, deliveryError(err))
	}
	res.BootID = bootID
	activity.GetLogger(ctx).Info("node rebooting", "node", n.ID, "bootId", bootID)
	return res, nil
}

// awaitPoll is how often awaitBootOn asks for the boot id.
var awaitPoll = 2 * time.Second

// probeTimeout bounds one attempt to reach the node and read its boot id.
const probeTimeout = 20 * time.Second

// awaitBootOn waits until the node n answers with a boot id other than
// in.BootID, reconnecting as often as it takes, until in.Until; then the
// node has not come back and the error is ErrRebootTimedOut. It heartbeats
// while it waits.
func (a *Activities) awaitBootOn(ctx context.Context, n node.Node, in AwaitBootInput) (string, error) {
	rn, err := a.runnerFor(n)
	if err != nil {
		return "", err
	}
	var last error
	for {
		recordHeartbeat(ctx)
		id, err := a.probeBootID(ctx, rn, n)
		switch {
		case err == nil && id != "" && id != in.BootID:
			activity.GetLogger(ctx).Info("node back from reboot", "node", n.ID, "bootId", id)
			return id, nil
		case err != nil:
			last = err
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if !a.now().Before(in.Until) {
			msg := fmt.Sprintf("node %s did not come back from its reboot by %s", n.ID, in.Until.UTC().Format(time.RFC3339))
			if last != nil {
				msg += ": " + last.Error()
			}
			return "", temporal.NewNonRetryableApplicationError(msg, ErrRebootTimedOut, nil)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(awaitPoll):
		}
	}
}

// probeBootID reads n's boot id over a fresh connection: pooled ones
// belong to the boot before.
func (a *Activities) probeBootID(ctx context.Context, rn runner.Runner, n node.Node) (string, error) {
	t := nodeTarget(n)
	a.Nodes.Drop(t)
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := a.Nodes.Get(pctx, t)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return rn.BootID(pctx, conn, n.BootIDCommand)
}
