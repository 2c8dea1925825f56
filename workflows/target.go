package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/searchattr"
)

// SSM's document exit codes that end the document early.
const (
	exitSucceedAndStop = 168
	exitFailAndStop    = 169
)

// TargetInput is one node's part of an execution.
type TargetInput struct {
	AssociationName string               `json:"associationName"`
	ExecutionID     string               `json:"executionId"`
	Node            activities.TargetRef `json:"node"`
	Plan            documents.Plan       `json:"plan"`
}

// StepSummary is a step's outcome on one node.
type StepSummary struct {
	Name           string `json:"name"`
	Status         string `json:"status"`
	DetailedStatus string `json:"detailedStatus,omitempty"`
	ExitCode       int    `json:"exitCode"`
}

// TargetSummary is a node's outcome in an execution. It is small on
// purpose: the step output stays in the target workflow's own history, so
// an execution's history does not grow with the output of its fleet.
type TargetSummary struct {
	NodeID         string        `json:"nodeId"`
	WorkflowID     string        `json:"workflowId,omitempty"`
	Status         string        `json:"status"`
	DetailedStatus string        `json:"detailedStatus,omitempty"`
	ExitCode       int           `json:"exitCode"`
	StartedAt      time.Time     `json:"startedAt"`
	EndedAt        time.Time     `json:"endedAt"`
	Steps          []StepSummary `json:"steps,omitempty"`
}

// TargetWorkflowID names a node's workflow within an execution.
func TargetWorkflowID(executionWorkflowID, nodeID string) string {
	return executionWorkflowID + "/" + nodeID
}

// stepRetry retries a step whose node could not be reached, with backoff;
// failures that retrying cannot fix are non-retryable at the source.
var stepRetry = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    30 * time.Second,
	MaximumAttempts:    5,
}

// stepDeliveryTimeout bounds how long a step may wait for a worker of its
// region to pick it up before the target is DeliveryTimedOut.
const stepDeliveryTimeout = 10 * time.Minute

// TargetWorkflow runs a plan's steps in order on one node, each step an
// activity on the node's region task queue.
func TargetWorkflow(ctx workflow.Context, in TargetInput) (TargetSummary, error) {
	sum := TargetSummary{
		NodeID:     in.Node.NodeID,
		WorkflowID: TargetWorkflowID(ExecutionWorkflowID(in.AssociationName, in.ExecutionID), in.Node.NodeID),
		Status:     StatusInProgress,
		StartedAt:  workflow.Now(ctx),
	}
	for i, step := range in.Plan.Steps {
		if sum.Status != StatusInProgress {
			sum.Steps = append(sum.Steps, StepSummary{Name: step.Name, Status: StatusSkipped, DetailedStatus: "an earlier step ended the document"})
			continue
		}
		if step.Skipped {
			sum.Steps = append(sum.Steps, StepSummary{Name: step.Name, Status: StatusSkipped, DetailedStatus: step.SkipReason})
			continue
		}
		if len(step.Platforms) > 0 && !slices.Contains(step.Platforms, in.Node.Platform) {
			sum.Steps = append(sum.Steps, StepSummary{Name: step.Name, Status: StatusSkipped, DetailedStatus: fmt.Sprintf("precondition: platform %s is not %v", in.Node.Platform, step.Platforms)})
			continue
		}
		ss := runStep(ctx, in, i, step)
		sum.Steps = append(sum.Steps, ss)
		sum.ExitCode = ss.ExitCode
		switch {
		case ss.Status == StatusSuccess && ss.ExitCode == exitSucceedAndStop:
			sum.Status = StatusSuccess
		case ss.Status != StatusSuccess:
			sum.Status = ss.Status
			sum.DetailedStatus = fmt.Sprintf("step %s: %s", step.Name, ss.DetailedStatus)
		}
	}
	if sum.Status == StatusInProgress {
		sum.Status = StatusSuccess
	}
	sum.EndedAt = workflow.Now(ctx)
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	if err := workflow.UpsertTypedSearchAttributes(ctx, searchattr.Status.ValueSet(sum.Status)); err != nil {
		return sum, err
	}
	return sum, nil
}

// runStep runs one step and turns its result or failure into a summary.
func runStep(ctx workflow.Context, in TargetInput, index int, step documents.PlanStep) StepSummary {
	timeout := time.Duration(step.TimeoutSeconds) * time.Second
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              RegionTaskQueue(in.Node.Region),
		ScheduleToStartTimeout: stepDeliveryTimeout,
		StartToCloseTimeout:    timeout + 2*time.Minute,
		HeartbeatTimeout:       20 * time.Second,
		RetryPolicy:            stepRetry,
		WaitForCancellation:    true,
	})
	var a *activities.Activities
	var res activities.StepResult
	err := workflow.ExecuteActivity(actx, a.RunStep, activities.RunStepInput{
		NodeID: in.Node.NodeID,
		RunID:  fmt.Sprintf("%s-%s-%d", in.ExecutionID, in.Node.NodeID, index),
		Step:   step,
	}).Get(ctx, &res)
	ss := StepSummary{Name: step.Name, ExitCode: res.ExitCode}
	if err != nil {
		ss.ExitCode = -1
		ss.Status, ss.DetailedStatus = failureStatus(err)
		return ss
	}
	switch {
	case res.TimedOut:
		ss.Status, ss.DetailedStatus = StatusTimedOut, fmt.Sprintf("timed out after %s", timeout)
	case res.ExitCode == 0 || res.ExitCode == exitSucceedAndStop:
		ss.Status = StatusSuccess
	case res.ExitCode == exitFailAndStop:
		ss.Status, ss.DetailedStatus = StatusFailed, "exit code 169: document stopped as failed"
	default:
		ss.Status, ss.DetailedStatus = StatusFailed, fmt.Sprintf("exit code %d", res.ExitCode)
	}
	return ss
}

// failureStatus classifies an activity failure: the step never reached
// the node (Undeliverable, DeliveryTimedOut), was cancelled, or failed.
func failureStatus(err error) (string, string) {
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return StatusCancelled, "cancelled"
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) && timeout.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return StatusDeliveryTimedOut, "no worker of the node's region picked the step up"
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if slices.Contains(activities.DeliveryErrors, app.Type()) {
			return StatusUndeliverable, app.Type() + ": " + app.Error()
		}
		return StatusFailed, app.Error()
	}
	if errors.As(err, &timeout) {
		return StatusTimedOut, err.Error()
	}
	return StatusFailed, err.Error()
}
