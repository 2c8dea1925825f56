package client

// Every read of the per-node results of an execution is in this file. An
// execution runs its nodes in batch activities (contract.ActivityRunBatch),
// and each batch's result, in the execution's history, holds a summary per
// node: the audit record these functions read.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/internal/visibility"
	"github.com/stead-io/stead/workflows"
)

// TargetOutput is a target of an execution with the steps that ran on it,
// one entry per attempt, each with the head of its output (Output reads
// all of it from the output store).
type TargetOutput struct {
	contract.TargetSummary
	Output []contract.StepSummary `json:"output"`
}

// outcomeListsAllUpTo is the largest execution whose every target Outcome
// lists; past it, it lists the targets that did not succeed.
const outcomeListsAllUpTo = 50

// Outcome lists the targets of an ended execution worth showing: every
// target of a small execution (complete), else the first of those that
// did not succeed, from the execution's result alone.
func (c *Client) Outcome(ctx context.Context, name string, res workflows.ExecutionResult) (ts []contract.TargetSummary, complete bool, err error) {
	if res.Counts.Total <= outcomeListsAllUpTo {
		ts, err := c.TargetSummaries(ctx, name, res)
		return ts, true, err
	}
	ts = slices.Clone(res.Failures)
	for _, nr := range res.NotRun {
		for _, id := range nr.Nodes {
			if len(ts) >= outcomeListsAllUpTo {
				break
			}
			ts = append(ts, notRunSummary(id, nr))
		}
	}
	return ts, false, nil
}

// notRunSummary is a target that never ran.
func notRunSummary(id string, nr workflows.NotRun) contract.TargetSummary {
	return contract.TargetSummary{NodeID: id, Status: nr.Status, DetailedStatus: nr.DetailedStatus, ExitCode: -1}
}

// TargetSummaries returns every target of an execution, sorted by node:
// those its batches ran, from the batch results in the history of each of
// the execution's runs; those of running batches as InProgress; then the
// ones that never ran (as many as the result lists).
func (c *Client) TargetSummaries(ctx context.Context, name string, res workflows.ExecutionResult) ([]contract.TargetSummary, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	wfID := contract.ExecutionWorkflowID(name, res.ExecutionID)
	var out []contract.TargetSummary
	for runID := ""; ; {
		prev, ts, err := batchSummaries(ctx, cn, wfID, runID)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
		if prev == "" {
			break
		}
		runID = prev
	}
	slices.SortFunc(out, func(x, y contract.TargetSummary) int { return strings.Compare(x.NodeID, y.NodeID) })
	for _, nr := range res.NotRun {
		for _, id := range nr.Nodes {
			out = append(out, notRunSummary(id, nr))
		}
	}
	return out, nil
}

// batchInput is the part of a batch's input that names its nodes.
type batchInput struct {
	Nodes []contract.TargetRef `json:"nodes"`
}

// batchSummaries reads the node summaries of one run of an execution from
// its history, and the id of the run it continued from.
func batchSummaries(ctx context.Context, cn *Connection, wfID, runID string) (string, []contract.TargetSummary, error) {
	it := cn.Temporal.GetWorkflowHistory(ctx, wfID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var prev string
	scheduled := map[int64]batchInput{}
	var order []int64
	done := map[int64][]contract.TargetSummary{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return "", nil, fmt.Errorf("read history of %s: %w", wfID, err)
		}
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			prev = a.GetContinuedExecutionRunId()
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == contract.ActivityRunBatch {
			var in batchInput
			if err := cn.DataConverter.FromPayloads(a.GetInput(), &in); err != nil {
				return "", nil, fmt.Errorf("decode batch input in %s: %w", wfID, err)
			}
			scheduled[ev.GetEventId()] = in
			order = append(order, ev.GetEventId())
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
			if _, ok := scheduled[a.GetScheduledEventId()]; ok {
				var r contract.BatchResult
				if err := cn.DataConverter.FromPayloads(a.GetResult(), &r); err != nil {
					return "", nil, fmt.Errorf("decode batch result in %s: %w", wfID, err)
				}
				done[a.GetScheduledEventId()] = r.Nodes
			}
		}
		if id, status, why := batchEnded(ev); id != 0 {
			if in, ok := scheduled[id]; ok {
				ts := []contract.TargetSummary{}
				for _, r := range in.Nodes {
					ts = append(ts, contract.TargetSummary{NodeID: r.NodeID, Status: status, DetailedStatus: why, ExitCode: -1})
				}
				done[id] = ts
			}
		}
	}
	var out []contract.TargetSummary
	for _, id := range order {
		ts, ok := done[id]
		if !ok {
			for _, r := range scheduled[id].Nodes {
				ts = append(ts, contract.TargetSummary{NodeID: r.NodeID, Status: contract.StatusInProgress})
			}
		}
		out = append(out, ts...)
	}
	return prev, out, nil
}

// batchEnded returns the scheduled event id of an activity that ended
// without a result, the status that gives its nodes, and why.
func batchEnded(ev *historypb.HistoryEvent) (int64, string, string) {
	if a := ev.GetActivityTaskFailedEventAttributes(); a != nil {
		return a.GetScheduledEventId(), contract.StatusFailed, "batch failed: " + a.GetFailure().GetMessage()
	}
	if a := ev.GetActivityTaskTimedOutEventAttributes(); a != nil {
		return a.GetScheduledEventId(), contract.StatusTimedOut, "batch timed out: " + a.GetFailure().GetMessage()
	}
	if a := ev.GetActivityTaskCanceledEventAttributes(); a != nil {
		return a.GetScheduledEventId(), contract.StatusCancelled, "cancelled"
	}
	return 0, "", ""
}

// TargetOutputs returns every target of an execution with what each of
// its steps printed, and the execution's state (its result, or its
// progress while it runs).
func (c *Client) TargetOutputs(ctx context.Context, name, execID string) (workflows.ExecutionResult, []TargetOutput, error) {
	res, _, err := c.Execution(ctx, name, execID)
	if err != nil {
		return res, nil, err
	}
	ts, err := c.TargetSummaries(ctx, name, res)
	if err != nil {
		return res, nil, err
	}
	outs := make([]TargetOutput, 0, len(ts))
	for _, t := range ts {
		o := TargetOutput{TargetSummary: t, Output: []contract.StepSummary{}}
		for _, s := range t.Steps {
			o.Output = append(o.Output, s.Earlier...)
			if s.Attempt > 0 {
				o.Output = append(o.Output, s)
			}
		}
		outs = append(outs, o)
	}
	return res, outs, nil
}

// NodeRun is one execution that reached a node, and how it ended there.
type NodeRun struct {
	Association string    `json:"association"`
	ExecutionID string    `json:"executionId"`
	Reason      string    `json:"reason"`
	StartedAt   time.Time `json:"startedAt"`
	contract.TargetSummary
}

// NodeHistoryRequest selects what NodeHistory reads.
type NodeHistoryRequest struct {
	Node string
	// Limit is how many runs to return, newest first.
	Limit int
	// Scan is how many executions to read at most: each costs a read of
	// its history.
	Scan int
}

// NodeHistory lists the executions that reached a node, running ones
// first, then the most recently ended (the listing's order), with the
// node's outcome in each, read from the executions' histories
// (the audit record). For a registered node it reads the executions of the
// associations that target it now or hold a compliance record for it; for
// a node no longer registered, the executions of every association.
func (c *Client) NodeHistory(ctx context.Context, r NodeHistoryRequest) ([]NodeRun, error) {
	if err := node.ValidID(r.Node); err != nil {
		return nil, invalid(err)
	}
	if r.Limit < 1 || r.Scan < 1 {
		return nil, invalid(fmt.Errorf("limit %d and scan %d: want at least 1", r.Limit, r.Scan))
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	query := "WorkflowType = '" + contract.ExecutionWorkflow + "'"
	st, err := c.Node(ctx, r.Node)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, err
	default:
		names, err := c.associationsOf(ctx, cn, st)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return []NodeRun{}, nil
		}
		query += " AND " + visibility.In(contract.AttrAssociation.GetName(), names)
	}
	out := []NodeRun{}
	scanned := 0
	errEnough := errors.New("enough")
	err = visibility.Each(ctx, cn.Temporal, cn.Namespace, query, "executions", func(e *workflowpb.WorkflowExecutionInfo) error {
		if len(out) >= r.Limit || scanned >= r.Scan {
			return errEnough
		}
		scanned++
		sa := e.GetSearchAttributes().GetIndexedFields()
		var name, execID string
		_ = cn.DataConverter.FromPayload(sa[contract.AttrAssociation.GetName()], &name)
		_ = cn.DataConverter.FromPayload(sa[contract.AttrExecutionID.GetName()], &execID)
		if name == "" || execID == "" {
			return nil
		}
		res, _, err := c.Execution(ctx, name, execID)
		if err != nil {
			// It ended without a result (terminated, timed out): its
			// batches in its history still say what ran where.
			res = workflows.ExecutionResult{ExecutionID: execID}
		}
		ts, err := c.TargetSummaries(ctx, name, res)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(ts, func(t contract.TargetSummary) bool { return t.NodeID == r.Node }); i >= 0 {
			out = append(out, NodeRun{Association: name, ExecutionID: execID, Reason: res.Reason, StartedAt: e.GetStartTime().AsTime(), TargetSummary: ts[i]})
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return out, nil
}

// associationsOf names the associations whose executions may have reached
// a node: those whose targets match it now, and those that recorded its
// compliance (they reached it under earlier tags).
func (c *Client) associationsOf(ctx context.Context, cn *Connection, st workflows.NodeState) ([]string, error) {
	var names []string
	for _, r := range st.Compliance {
		names = append(names, r.Association)
	}
	err := targets.EachAssociation(ctx, cn.Temporal, cn.Namespace, cn.DataConverter, func(id string, ts []targets.Target) error {
		if targets.Match(st.Node.ID, st.Node.Tags, ts) {
			names = append(names, contract.AssociationName(id))
		}
		return nil
	})
	slices.Sort(names)
	return slices.Compact(names), err
}
