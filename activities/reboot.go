package activities

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/transport"
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

// rebootProgram records the current boot id in the step's run directory,
// then runs the reboot command. If the run directory already records a
// boot id other than the current one, the reboot happened (an earlier
// attempt issued it) and the node is not rebooted again.
const rebootProgram = `# Stead: reboot for run @RUNID@.
d="$HOME/.stead/runs/@RUNID@"
mkdir -p "$d" || exit 90
cur=$(sh -c @BOOTID@ 2>/dev/null | tr -d ' \n\r\t')
[ -n "$cur" ] || { echo "the boot id command printed nothing" >&2; exit 91; }
if [ -f "$d/rebooted-from" ]; then
	old=$(cat "$d/rebooted-from")
	if [ "$old" != "$cur" ]; then
		printf 'STEAD1 rebooted %s\n' "$old"
		exit 0
	fi
else
	printf '%s\n' "$cur" >"$d/rebooted-from"
fi
printf 'STEAD1 rebooting %s\n' "$cur"
sh -c @REBOOT@ </dev/null
`

// rebootIssueTimeout bounds the session that issues the reboot.
const rebootIssueTimeout = 60 * time.Second

// RebootNode reboots a node whose step asked for it (exit code 194 or
// 3010) and returns the boot id it had before, for AwaitBoot. The
// connection dropping as the node goes down is the expected outcome; a
// reboot command that exits non-zero with the connection still up failed.
func (a *Activities) RebootNode(ctx context.Context, in RebootInput) (RebootResult, error) {
	n, err := a.loadNode(ctx, in.NodeID)
	if err != nil {
		return RebootResult{}, err
	}
	return a.rebootNodeOn(ctx, n, in)
}

// rebootNodeOn is RebootNode for a node whose spec the caller has loaded.
func (a *Activities) rebootNodeOn(ctx context.Context, n node.Node, in RebootInput) (RebootResult, error) {
	res := RebootResult{TimeoutSeconds: n.RebootTimeoutSeconds}
	if res.TimeoutSeconds <= 0 {
		res.TimeoutSeconds = node.DefaultRebootTimeoutSeconds
	}
	t := nodeTarget(n)
	conn, err := a.Nodes.Get(ctx, t)
	if err != nil {
		return res, deliveryError(err)
	}
	defer a.dropConnections(t)
	defer conn.Close()
	reboot := shellQuote(orDefault(n.RebootCommand, node.DefaultRebootCommand))
	if n.Sudo {
		// Only a node that opted in to sudo is rebooted through it.
		reboot = shellQuote("sudo -n sh -c " + reboot)
	}
	program := strings.NewReplacer(
		"@RUNID@", in.RunID,
		"@BOOTID@", shellQuote(orDefault(n.BootIDCommand, node.DefaultBootIDCommand)),
		"@REBOOT@", reboot,
	).Replace(rebootProgram)
	rctx, cancel := context.WithTimeout(ctx, rebootIssueTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	code, runErr := conn.Run(rctx, "sh -c "+shellQuote(program), nil, &out, &errOut)
	state, bootID := rebootHeader(out.String())
	switch {
	case state == "rebooted":
		res.BootID = bootID
		return res, nil
	case state == "rebooting" && (runErr != nil || code == 0):
		// Issued: it returned, or the node went down under it.
		res.BootID = bootID
		activity.GetLogger(ctx).Info("node rebooting", "node", in.NodeID, "bootId", bootID)
		return res, nil
	case state == "rebooting":
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("reboot node %s: the reboot command exited %d: %s", in.NodeID, code, firstLineOf(errOut.String())), ErrRebootFailed, nil)
	case runErr != nil:
		return res, fmt.Errorf("reboot node %s: %w", in.NodeID, deliveryError(runErr))
	default:
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("reboot node %s: read the boot id: exit status %d: %s", in.NodeID, code, firstLineOf(errOut.String())), ErrRebootFailed, nil)
	}
}

// awaitPoll is how often AwaitBoot asks for the boot id.
var awaitPoll = 2 * time.Second

// probeTimeout bounds one attempt to reach the node and read its boot id.
const probeTimeout = 20 * time.Second

// AwaitBoot waits until the node answers with a boot id other than
// in.BootID, reconnecting as often as it takes, until in.Until; then the
// node has not come back and the error is ErrRebootTimedOut. It
// heartbeats while it waits, so a retry after a worker crash resumes the
// wait with the same deadline.
func (a *Activities) AwaitBoot(ctx context.Context, in AwaitBootInput) (string, error) {
	n, err := a.loadNode(ctx, in.NodeID)
	if err != nil {
		return "", err
	}
	return a.awaitBootOn(ctx, n, in)
}

// awaitBootOn is AwaitBoot for a node whose spec the caller has loaded.
func (a *Activities) awaitBootOn(ctx context.Context, n node.Node, in AwaitBootInput) (string, error) {
	t := nodeTarget(n)
	cmd := "sh -c " + shellQuote(orDefault(n.BootIDCommand, node.DefaultBootIDCommand))
	var last error
	for {
		activity.RecordHeartbeat(ctx)
		id, err := a.probeBootID(ctx, t, cmd)
		switch {
		case err == nil && id != "" && id != in.BootID:
			activity.GetLogger(ctx).Info("node back from reboot", "node", in.NodeID, "bootId", id)
			return id, nil
		case err != nil:
			last = err
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if !a.now().Before(in.Until) {
			msg := fmt.Sprintf("node %s did not come back from its reboot by %s", in.NodeID, in.Until.UTC().Format(time.RFC3339))
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

// probeBootID reads the boot id over a fresh connection: pooled ones
// belong to the boot before.
func (a *Activities) probeBootID(ctx context.Context, t transport.Target, cmd string) (string, error) {
	a.dropConnections(t)
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := a.Nodes.Get(pctx, t)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var out bytes.Buffer
	code, err := conn.Run(pctx, cmd, nil, &out, nil)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("read boot id: exit status %d", code)
	}
	return strings.Join(strings.Fields(out.String()), ""), nil
}

// dropConnections forgets pooled connections to t, if the connector pools.
func (a *Activities) dropConnections(t transport.Target) {
	if d, ok := a.Nodes.(interface{ Drop(transport.Target) }); ok {
		d.Drop(t)
	}
}

// nodeTarget is how the transport reaches n.
func nodeTarget(n node.Node) transport.Target {
	return transport.Target{
		NodeID: n.ID, Address: n.Address, Port: n.Port, User: n.User,
		Kind: n.Transport, HostKey: n.HostKey, Credential: n.Credential,
	}
}

// rebootHeader parses rebootProgram's "STEAD1 STATE BOOTID" line.
func rebootHeader(out string) (state, bootID string) {
	line, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "STEAD1" {
		return "", ""
	}
	return f[1], f[2]
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// shellQuote quotes s as one sh word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// firstLineOf is the first line of s, for an error message.
func firstLineOf(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
