package client

// Every read of the per-node results of an execution is in this file, one
// function each, so that a change in how executions keep them (target
// workflows today) changes this file alone.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/workflows"
)

// StepOutput is what one step printed on a node, as the step reported it:
// the first 24,000 characters of stdout and 8,000 of stderr (Output reads
// all of it from the output store).
type StepOutput struct {
	Step            string    `json:"step"`
	ExitCode        int       `json:"exitCode"`
	TimedOut        bool      `json:"timedOut,omitempty"`
	Stdout          string    `json:"stdout"`
	Stderr          string    `json:"stderr"`
	StdoutTruncated bool      `json:"stdoutTruncated,omitempty"`
	StderrTruncated bool      `json:"stderrTruncated,omitempty"`
	StartedAt       time.Time `json:"startedAt"`
	EndedAt         time.Time `json:"endedAt"`
	// Resumed says the step's result was collected by a later attempt
	// from the run an earlier one had started.
	Resumed bool  `json:"resumed,omitempty"`
	Attempt int32 `json:"attempt"`
	// OutputStoreError says why the full output is missing from the
	// worker's output store, if it is.
	OutputStoreError string `json:"outputStoreError,omitempty"`
}

// TargetOutput is a target of an execution with what each step printed.
type TargetOutput struct {
	workflows.TargetSummary
	Output []StepOutput `json:"output"`
}

// outcomeListsAllUpTo is the largest execution whose every target Outcome
// lists; past it, it lists the targets that did not succeed.
const outcomeListsAllUpTo = 50

// Outcome lists the targets of an ended execution worth showing: every
// target of a small execution (complete), else the first of those that
// did not succeed, from the execution's result alone.
func (c *Client) Outcome(ctx context.Context, name string, res workflows.ExecutionResult) (ts []workflows.TargetSummary, complete bool, err error) {
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
func notRunSummary(id string, nr workflows.NotRun) workflows.TargetSummary {
	return workflows.TargetSummary{NodeID: id, Status: nr.Status, DetailedStatus: nr.DetailedStatus, ExitCode: -1}
}

// targetLookups bounds the concurrent reads of target workflows.
const targetLookups = 16

// TargetSummaries returns every target of an execution: each dispatched
// one from its target workflow (running ones as InProgress), then the
// ones that never ran.
func (c *Client) TargetSummaries(ctx context.Context, name string, res workflows.ExecutionResult) ([]workflows.TargetSummary, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	execWF := contract.ExecutionWorkflowID(name, res.ExecutionID)
	out := make([]workflows.TargetSummary, len(res.Dispatched))
	errs := make([]error, len(res.Dispatched))
	sem := make(chan struct{}, targetLookups)
	var wg sync.WaitGroup
	for i, id := range res.Dispatched {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = targetSummary(ctx, cn, workflows.TargetWorkflowID(execWF, id), id)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, nr := range res.NotRun {
		for _, id := range nr.Nodes {
			out = append(out, notRunSummary(id, nr))
		}
	}
	return out, nil
}

// targetSummary reads one target workflow's outcome.
func targetSummary(ctx context.Context, cn *Connection, wfID, nodeID string) (workflows.TargetSummary, error) {
	d, err := cn.Temporal.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		return workflows.TargetSummary{}, fmt.Errorf("describe %s: %w", wfID, err)
	}
	info := d.GetWorkflowExecutionInfo()
	switch info.GetStatus() {
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return workflows.TargetSummary{NodeID: nodeID, WorkflowID: wfID, Status: contract.StatusInProgress, StartedAt: info.GetStartTime().AsTime()}, nil
	case enums.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		var s workflows.TargetSummary
		if err := cn.Temporal.GetWorkflow(ctx, wfID, "").Get(ctx, &s); err != nil {
			return s, fmt.Errorf("read %s: %w", wfID, err)
		}
		return s, nil
	default:
		return workflows.TargetSummary{NodeID: nodeID, WorkflowID: wfID, Status: contract.StatusFailed, ExitCode: -1,
			DetailedStatus: "target workflow " + strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")),
			StartedAt:      info.GetStartTime().AsTime(), EndedAt: info.GetCloseTime().AsTime()}, nil
	}
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
	cn, err := c.connect(ctx)
	if err != nil {
		return res, nil, err
	}
	outs := make([]TargetOutput, 0, len(ts))
	for _, t := range ts {
		o := TargetOutput{TargetSummary: t, Output: []StepOutput{}}
		if t.WorkflowID != "" {
			if o.Output, err = stepOutputs(ctx, cn, t.WorkflowID); err != nil {
				return res, nil, err
			}
		}
		outs = append(outs, o)
	}
	return res, outs, nil
}

// runStepActivity is the activity type that runs a step on a node; its
// results in a target workflow's history are the step outputs.
const runStepActivity = "RunStep"

// stepOutputs reads a target workflow's step results from its history,
// where they live so that executions stay small.
func stepOutputs(ctx context.Context, cn *Connection, workflowID string) ([]StepOutput, error) {
	it := cn.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	types := map[int64]string{}
	out := []StepOutput{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("read history of %s: %w", workflowID, err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil && types[a.GetScheduledEventId()] == runStepActivity {
			var r StepOutput
			if err := cn.DataConverter.FromPayloads(a.GetResult(), &r); err != nil {
				return nil, fmt.Errorf("decode step result in %s: %w", workflowID, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}
