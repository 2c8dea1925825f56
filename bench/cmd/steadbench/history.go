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

// historyResult splits an execution's time between Stead's code and
// Temporal's dispatch, read from the histories the run left.
type historyResult struct {
	targets         int
	executionEvents int
	targetEvents    float64 // mean events per target workflow
	// Medians and 95th percentiles over targets, in milliseconds.
	childStart     [2]float64 // execution asks for a child → child started
	firstTask      [2]float64 // target started → its step activity scheduled
	activityQueue  [2]float64 // activity scheduled → started (dispatch to the worker)
	activityRun    [2]float64 // activity started → completed (SSH and the step)
	completion     [2]float64 // activity completed → target workflow completed
	targetLifetime [2]float64 // target started → completed
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

// historyStats reads the histories of the latest execution of the
// association name and its target workflows.
func (e *env) historyStats(ctx context.Context, name string) (*historyResult, error) {
	res, err := e.steadCmd(ctx, time.Minute, "association", "executions", name, "--output", "json")
	if err != nil {
		return nil, err
	}
	var recs []struct {
		ExecutionID string `json:"executionId"`
		WorkflowID  string `json:"workflowId"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &recs); err != nil || len(recs) == 0 {
		return nil, fmt.Errorf("read executions of %s: %v", name, err)
	}
	execID := recs[0].WorkflowID
	if execID == "" {
		execID = contract.ExecutionWorkflowID(name, recs[0].ExecutionID)
	}
	c, err := e.dialTemporal()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	events, err := history(ctx, c, execID)
	if err != nil {
		return nil, err
	}
	h := &historyResult{executionEvents: len(events)}
	initiated := map[int64]time.Time{}
	var childStart []float64
	var targetIDs []string
	for _, ev := range events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			initiated[ev.GetEventId()] = ev.GetEventTime().AsTime()
		case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
			a := ev.GetChildWorkflowExecutionStartedEventAttributes()
			if t, ok := initiated[a.GetInitiatedEventId()]; ok {
				childStart = append(childStart, ms(ev.GetEventTime().AsTime().Sub(t)))
			}
			targetIDs = append(targetIDs, a.GetWorkflowExecution().GetWorkflowId())
		}
	}
	h.targets = len(targetIDs)
	h.childStart = pcts(childStart)
	var firstTask, queue, run, completion, lifetime []float64
	total := 0
	for _, id := range targetIDs {
		evs, err := history(ctx, c, id)
		if err != nil {
			return nil, err
		}
		total += len(evs)
		var started, scheduled, actStarted, actDone, done time.Time
		for _, ev := range evs {
			t := ev.GetEventTime().AsTime()
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
				started = t
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				if scheduled.IsZero() {
					scheduled = t
				}
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				if actStarted.IsZero() {
					actStarted = t
				}
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
				actDone = t
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
				done = t
			}
		}
		if started.IsZero() || scheduled.IsZero() || actStarted.IsZero() || actDone.IsZero() || done.IsZero() {
			continue
		}
		firstTask = append(firstTask, ms(scheduled.Sub(started)))
		queue = append(queue, ms(actStarted.Sub(scheduled)))
		run = append(run, ms(actDone.Sub(actStarted)))
		completion = append(completion, ms(done.Sub(actDone)))
		lifetime = append(lifetime, ms(done.Sub(started)))
	}
	if len(targetIDs) > 0 {
		h.targetEvents = float64(total) / float64(len(targetIDs))
	}
	h.firstTask, h.activityQueue, h.activityRun = pcts(firstTask), pcts(queue), pcts(run)
	h.completion, h.targetLifetime = pcts(completion), pcts(lifetime)
	return h, nil
}

// history returns every event of a workflow's latest run.
func history(ctx context.Context, c client.Client, id string) ([]*historypb.HistoryEvent, error) {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
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
