package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/stead-io/stead/contract"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// historyResult is what one execution cost Temporal, read from the
// histories it left: its own runs' events, the events its compliance
// reports added to the node workflows, the server's CPU time, and where a
// batch's time went.
type historyResult struct {
	targets, batches, runs int
	executionEvents        int
	nodeEvents             int     // events the run added to its nodes' workflows
	serverCPU              float64 // seconds of the Temporal server's CPU during the run
	// Medians and 95th percentiles over batches, in milliseconds.
	batchQueue [2]float64 // batch scheduled → started (dispatch to the worker)
	batchRun   [2]float64 // batch started → completed (its nodes' steps)
	// Milliseconds from the execution's start to its first batch (the
	// document prepared, the first page of targets resolved), and from its
	// last batch to its end.
	firstBatch, lastBatch float64
}

// dialTemporal connects the benchmark itself to the server, for reading
// histories and counting workflows.
func (e *env) dialTemporal() (client.Client, error) {
	c, err := client.Dial(client.Options{HostPort: e.stead, Namespace: "default", Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("connect to temporal: %w", err)
	}
	return c, nil
}

// latestExecution is the workflow id of the latest execution of the
// association name.
func (e *env) latestExecution(ctx context.Context, name string) (string, error) {
	res, err := e.steadCmd(ctx, time.Minute, "association", "executions", name, "--output", "json")
	if err != nil {
		return "", err
	}
	var recs []struct {
		ExecutionID string `json:"executionId"`
		WorkflowID  string `json:"workflowId"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &recs); err != nil || len(recs) == 0 {
		return "", fmt.Errorf("read executions of %s: %v", name, err)
	}
	if recs[0].WorkflowID != "" {
		return recs[0].WorkflowID, nil
	}
	return contract.ExecutionWorkflowID(name, recs[0].ExecutionID), nil
}

// historyStats reads the histories of every run of the latest execution
// of the association name, which ran on targets nodes. (Payloads are
// encrypted by Stead's codec: only event types and times are read.)
func (e *env) historyStats(ctx context.Context, name string, targets int) (*historyResult, error) {
	execID, err := e.latestExecution(ctx, name)
	if err != nil {
		return nil, err
	}
	c, err := e.dialTemporal()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	h := &historyResult{targets: targets}
	var queue, run []float64
	var started, closed, first, last time.Time
	for runID := ""; ; {
		events, err := history(ctx, c, execID, runID)
		if err != nil {
			return nil, err
		}
		h.runs++
		h.executionEvents += len(events)
		scheduled, starts := map[int64]time.Time{}, map[int64]time.Time{}
		var prev string
		for _, ev := range events {
			t := ev.GetEventTime().AsTime()
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
				prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
				if prev == "" {
					started = t
				}
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				a := ev.GetActivityTaskScheduledEventAttributes()
				if a.GetActivityType().GetName() != contract.ActivityRunBatch {
					continue
				}
				h.batches++
				scheduled[ev.GetEventId()] = t
				if first.IsZero() || t.Before(first) {
					first = t
				}
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				a := ev.GetActivityTaskStartedEventAttributes()
				if at, ok := scheduled[a.GetScheduledEventId()]; ok {
					queue = append(queue, ms(t.Sub(at)))
					starts[a.GetScheduledEventId()] = t
				}
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
				a := ev.GetActivityTaskCompletedEventAttributes()
				if at, ok := starts[a.GetScheduledEventId()]; ok {
					run = append(run, ms(t.Sub(at)))
					if t.After(last) {
						last = t
					}
				}
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
				closed = t
			}
		}
		if prev == "" {
			break
		}
		runID = prev
	}
	h.batchQueue, h.batchRun = pcts(queue), pcts(run)
	if !first.IsZero() {
		h.firstBatch = ms(first.Sub(started))
	}
	if !last.IsZero() && !closed.IsZero() {
		h.lastBatch = ms(closed.Sub(last))
	}
	return h, nil
}

// nodeEvents sums the history lengths of the node workflows of the nodes
// tagged tag: measured before and after a run, the events the run's
// compliance reports added to them. It waits until the sum stops moving,
// as the nodes take their signals after the run has ended.
func (e *env) nodeEvents(ctx context.Context, tag string) (int64, error) {
	c, err := e.dialTemporal()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	q := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND %s = '%s=yes'", contract.NodeWorkflow, contract.AttrTags.GetName(), tag)
	sum := func() (int64, error) {
		var total int64
		var token []byte
		for {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, PageSize: 100, NextPageToken: token})
			if err != nil {
				return 0, fmt.Errorf("list nodes: %w", err)
			}
			for _, w := range resp.GetExecutions() {
				d, err := c.DescribeWorkflowExecution(ctx, w.GetExecution().GetWorkflowId(), "")
				if err != nil {
					return 0, fmt.Errorf("describe %s: %w", w.GetExecution().GetWorkflowId(), err)
				}
				total += d.GetWorkflowExecutionInfo().GetHistoryLength()
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				return total, nil
			}
		}
	}
	last := int64(-1)
	for range 30 {
		n, err := sum()
		if err != nil || n == last {
			return n, err
		}
		last = n
		time.Sleep(time.Second)
	}
	return last, nil
}

// history returns every event of a workflow's run (its latest for none).
func history(ctx context.Context, c client.Client, id, runID string) ([]*historypb.HistoryEvent, error) {
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("read history of %s: %w", id, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// waitExecutionsDone waits until no execution workflow is running.
func (e *env) waitExecutionsDone(ctx context.Context, timeout time.Duration) error {
	c, err := e.dialTemporal()
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: "WorkflowType = '" + contract.ExecutionWorkflow + "' AND ExecutionStatus = 'Running'",
		})
		if err != nil {
			return fmt.Errorf("count running executions: %w", err)
		}
		if resp.GetCount() == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d executions still running after %s", resp.GetCount(), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pcts returns the median and the 95th percentile of xs.
func pcts(xs []float64) [2]float64 {
	if len(xs) == 0 {
		return [2]float64{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return [2]float64{s[len(s)/2], s[min(len(s)-1, len(s)*95/100)]}
}

// quietLogger drops the SDK client's logs, which would interleave with
// the benchmark's progress.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
