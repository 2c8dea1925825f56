package client

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/workflows"
)

// Progress is an execution as Follow saw it.
type Progress struct {
	workflows.ExecutionResult
	// Done says the execution has ended: ExecutionResult is its result.
	Done bool
}

// followStartWithin bounds how long Follow waits for a queued execution
// to start.
const followStartWithin = 60 * time.Second

// pollWithin bounds one long poll of a history; the server answers sooner
// (with nothing new) when nothing happens.
const pollWithin = 70 * time.Second

// Follow watches an execution until it ends and returns its result,
// calling progress (if not nil) with its state whenever its status or
// counts change, and once when it ends. An execution that is queued but not yet
// started is waited for, up to a minute. It sleeps nowhere: it long-polls
// the execution's history (the association's while the execution has not
// started), and each batch of new events is when it looks again.
func (c *Client) Follow(ctx context.Context, name, execID string, progress func(Progress)) (workflows.ExecutionResult, error) {
	if err := checkExecutionID(execID); err != nil {
		return workflows.ExecutionResult{}, err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return workflows.ExecutionResult{}, err
	}
	if err := c.awaitStart(ctx, cn, name, execID); err != nil {
		return workflows.ExecutionResult{}, err
	}
	id := contract.ExecutionWorkflowID(name, execID)
	var last *Progress
	var token []byte
	for {
		res, done, err := c.Execution(ctx, name, execID)
		if err != nil {
			return res, err
		}
		p := Progress{ExecutionResult: res, Done: done}
		if last == nil || p.Status != last.Status || p.Counts != last.Counts || p.Done != last.Done {
			if progress != nil {
				progress(p)
			}
			last = &p
		}
		if done {
			return res, nil
		}
		// A run that ended (continued as new) has no next page: the next
		// poll reads the run that follows it from its start.
		if token, err = pollHistory(ctx, cn, id, token); err != nil {
			return res, err
		}
	}
}

// awaitStart waits until the execution's workflow exists, long-polling
// the association's history: the association starts its executions.
func (c *Client) awaitStart(parent context.Context, cn *Connection, name, execID string) error {
	id := contract.ExecutionWorkflowID(name, execID)
	missing := "execution " + execID + " of association " + name + " not found"
	ctx, cancel := context.WithTimeout(parent, followStartWithin)
	defer cancel()
	timedOut := func() bool { return ctx.Err() != nil && parent.Err() == nil }
	assoc := contract.AssociationWorkflowID(name)
	var token []byte
	for {
		_, err := cn.Temporal.DescribeWorkflowExecution(ctx, id, "")
		switch {
		case err == nil:
			return nil
		case timedOut():
			return notFound(missing, err)
		case !isNotFound(err):
			return refusal(err, missing, "describe execution "+execID)
		}
		token, err = pollHistory(ctx, cn, assoc, token)
		switch {
		case timedOut() || isNotFound(err):
			return notFound(missing, err)
		case err != nil:
			return err
		}
		if len(token) == 0 {
			// The association's run ended: deleted, so no execution will
			// start, or continued as new, and its next run will.
			closed, err := isClosed(ctx, cn, assoc)
			if err != nil {
				return err
			}
			if closed {
				return notFound(missing, nil)
			}
		}
	}
}

// pollHistory waits for the next events of a workflow's history after
// token (from its start for none) and returns the token to wait on next,
// empty once the run has ended.
func pollHistory(ctx context.Context, cn *Connection, workflowID string, token []byte) ([]byte, error) {
	pctx, cancel := context.WithTimeout(ctx, pollWithin)
	defer cancel()
	resp, err := cn.Temporal.WorkflowService().GetWorkflowExecutionHistory(pctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:              cn.Namespace,
		Execution:              &commonpb.WorkflowExecution{WorkflowId: workflowID},
		WaitNewEvent:           true,
		NextPageToken:          token,
		HistoryEventFilterType: enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT,
		SkipArchival:           true,
	})
	if err != nil && pctx.Err() != nil && ctx.Err() == nil {
		return token, nil // the poll ran out of time with nothing new
	}
	if err != nil {
		return nil, err
	}
	return resp.GetNextPageToken(), nil
}

// RunningNodes lists the nodes an execution is running now, the longest
// running first, at most n: the ones that hold it up. They come from the
// heartbeats of its running batches (each names its longest running
// nodes), so they are as old as the last heartbeat Temporal kept, a few
// seconds.
func (c *Client) RunningNodes(ctx context.Context, name, execID string, n int) ([]contract.RunningNode, error) {
	if err := checkExecutionID(execID); err != nil {
		return nil, err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	d, err := cn.Temporal.DescribeWorkflowExecution(ctx, contract.ExecutionWorkflowID(name, execID), "")
	if err != nil {
		return nil, refusal(err, "execution "+execID+" of association "+name+" not found", "describe execution "+execID)
	}
	var running []contract.RunningNode
	for _, a := range d.GetPendingActivities() {
		if a.GetActivityType().GetName() != contract.ActivityRunBatch || len(a.GetHeartbeatDetails().GetPayloads()) == 0 {
			continue
		}
		var hb contract.BatchHeartbeat
		if err := cn.DataConverter.FromPayloads(a.GetHeartbeatDetails(), &hb); err != nil {
			return nil, fmt.Errorf("decode heartbeat of a batch of execution %s: %w", execID, err)
		}
		running = append(running, hb.Running...)
	}
	slices.SortFunc(running, func(x, y contract.RunningNode) int {
		if c := x.StartedAt.Compare(y.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(x.NodeID, y.NodeID)
	})
	return running[:min(len(running), max(n, 0))], nil
}
