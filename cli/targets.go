package cli

import (
	"fmt"
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v2"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/workflows"
)

// TargetOutput is a target of an execution with the steps that ran on it,
// one entry per attempt, with the head of their output.
type TargetOutput struct {
	contract.TargetSummary
	Output []contract.StepSummary `json:"output"`
}

// targetOutput lists the steps of a target that ran on its node.
func targetOutput(t contract.TargetSummary) TargetOutput {
	o := TargetOutput{TargetSummary: t, Output: []contract.StepSummary{}}
	for _, s := range t.Steps {
		o.Output = append(o.Output, s.Earlier...)
		if s.Attempt > 0 {
			o.Output = append(o.Output, s)
		}
	}
	return o
}

// targetSummaries returns every target of an execution, sorted by node:
// those its batches ran, from the batch results in the history of each of
// the execution's runs; those of running batches as InProgress; then the
// ones that never ran.
func targetSummaries(c *ucli.Context, cn *conn, name string, res workflows.ExecutionResult) ([]contract.TargetSummary, error) {
	wfID := contract.ExecutionWorkflowID(name, res.ExecutionID)
	var out []contract.TargetSummary
	for runID := ""; ; {
		prev, ts, err := batchSummaries(c, cn, wfID, runID)
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
			out = append(out, contract.TargetSummary{NodeID: id, Status: nr.Status, DetailedStatus: nr.DetailedStatus, ExitCode: -1})
		}
	}
	return out, nil
}

// batchSummaries reads the node summaries of one run of an execution from
// its history, and the id of the run it continued from.
func batchSummaries(c *ucli.Context, cn *conn, wfID, runID string) (string, []contract.TargetSummary, error) {
	it := cn.client.GetWorkflowHistory(c.Context, wfID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var prev string
	scheduled := map[int64]activities.BatchInput{}
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
			var in activities.BatchInput
			if err := cn.dc.FromPayloads(a.GetInput(), &in); err != nil {
				return "", nil, fmt.Errorf("decode batch input in %s: %w", wfID, err)
			}
			scheduled[ev.GetEventId()] = in
			order = append(order, ev.GetEventId())
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
			if _, ok := scheduled[a.GetScheduledEventId()]; ok {
				var r activities.BatchResult
				if err := cn.dc.FromPayloads(a.GetResult(), &r); err != nil {
					return "", nil, fmt.Errorf("decode batch result in %s: %w", wfID, err)
				}
				done[a.GetScheduledEventId()] = r.Nodes
			}
		}
		if id, status, why := batchEnded(ev); id != 0 {
			if in, ok := scheduled[id]; ok {
				var ts []contract.TargetSummary
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
func batchEnded(ev *history.HistoryEvent) (int64, string, string) {
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
