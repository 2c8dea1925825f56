package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
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
	// ComplianceSeverity is reported with the node's compliance.
	ComplianceSeverity string `json:"complianceSeverity,omitempty"`
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
		WorkflowID: TargetWorkflowID(contract.ExecutionWorkflowID(in.AssociationName, in.ExecutionID), in.Node.NodeID),
		Status:     contract.StatusInProgress,
		StartedAt:  workflow.Now(ctx),
	}
	runSteps(ctx, in, &sum)
	if sum.Status == contract.StatusInProgress {
		sum.Status = contract.StatusSuccess
	}
	sum.EndedAt = workflow.Now(ctx)
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.AttrStatus.ValueSet(sum.Status)); err != nil {
		return sum, err
	}
	reportCompliance(ctx, in, sum)
	return sum, nil
}

// runSteps runs a plan's steps as SSM does: a failed step ends the document unless its
// onFailure says continue (the document still ends Failed) or successAndExit (it ends
// Succeeded); onSuccess exit and exit code 168 end it as succeeded, 169 as failed; the
// finally step runs even after an earlier step ended the document; a failed step runs
// again up to maxAttempts times. A node that cannot be reached, or a cancelled run, ends
// everything: the finally step cannot run either.
func runSteps(ctx workflow.Context, in TargetInput, sum *TargetSummary) {
	stopped, terminal, failed := false, false, false
	fail := func(ss StepSummary, name, note string) {
		if !failed {
			failed = true
			sum.Status = ss.Status
			sum.DetailedStatus = fmt.Sprintf("step %s: %s%s", name, ss.DetailedStatus, note)
		}
	}
	// queue is the plan's steps, into which an aws:runDocument LocalPath step's document
	// is spliced when the step is reached. A plan step keeps its index as its run key, so
	// its run ids are those it always had; a spliced step's key extends its parent's.
	type queued struct {
		step documents.PlanStep
		key  string
	}
	queue := make([]queued, len(in.Plan.Steps))
	for i, step := range in.Plan.Steps {
		queue[i] = queued{step, strconv.Itoa(i)}
	}
	for n := 0; n < len(queue); n++ {
		step, key := queue[n].step, queue[n].key
		if terminal || (stopped && !step.FinallyStep) {
			sum.Steps = append(sum.Steps, StepSummary{Name: step.Name, Status: contract.StatusSkipped, DetailedStatus: "an earlier step ended the document"})
			continue
		}
		if skipped, ok := skipStep(in, step); ok {
			sum.Steps = append(sum.Steps, skipped)
			continue
		}
		var ss StepSummary
		switch {
		case step.Refused != "":
			ss = StepSummary{Name: step.Name, Status: contract.StatusFailed, DetailedStatus: step.Refused, ExitCode: -1}
		case step.LocalDocument != nil:
			var nested []documents.PlanStep
			nested, ss = loadLocalDocument(ctx, in, step)
			if ss.Status == "" {
				spliced := make([]queued, len(nested))
				for j, c := range nested {
					spliced[j] = queued{c, key + "." + strconv.Itoa(j)}
				}
				queue = slices.Insert(queue, n+1, spliced...)
				continue
			}
		default:
			ss = runAttempts(ctx, in, key, step)
		}
		sum.Steps = append(sum.Steps, ss)
		sum.ExitCode = ss.ExitCode
		switch {
		case ss.Status == contract.StatusSuccess:
			if ss.ExitCode == exitSucceedAndStop || step.OnSuccess == documents.OnSuccessExit {
				stopped = true
			}
		case ss.Status != contract.StatusFailed && ss.Status != contract.StatusTimedOut:
			terminal = true
			fail(ss, step.Name, "")
		case ss.ExitCode == exitFailAndStop:
			stopped = true
			fail(ss, step.Name, "")
		case step.OnFailure == documents.OnFailureContinue:
			fail(ss, step.Name, " (onFailure continue: later steps ran)")
		case step.OnFailure == documents.OnFailureSuccessAndExit:
			stopped = true
		default:
			stopped = true
			fail(ss, step.Name, "")
		}
	}
}

// skipStep returns the summary of a step that does not run on this node: its
// precondition is false, or it is for another platform.
func skipStep(in TargetInput, step documents.PlanStep) (StepSummary, bool) {
	if step.Skipped {
		return StepSummary{Name: step.Name, Status: contract.StatusSkipped, DetailedStatus: step.SkipReason}, true
	}
	if len(step.Platforms) > 0 && !slices.Contains(step.Platforms, in.Node.Platform) {
		return StepSummary{Name: step.Name, Status: contract.StatusSkipped, DetailedStatus: fmt.Sprintf("precondition: platform %s is not %v", in.Node.Platform, step.Platforms)}, true
	}
	return StepSummary{}, false
}

// stepRunID names a step's run on a node. Each attempt is a run of its own: a detached
// run executes at most once, which is what lets a retried activity collect its result.
func stepRunID(in TargetInput, key string, attempt int) string {
	id := fmt.Sprintf("%s-%s-%s", in.ExecutionID, in.Node.NodeID, key)
	if attempt > 1 {
		id += fmt.Sprintf("-a%d", attempt)
	}
	return id
}

// runAttempts runs a step up to its MaxAttempts times while it fails (Failed or
// TimedOut; exit code 169 is a decision, not a failure to retry).
func runAttempts(ctx workflow.Context, in TargetInput, key string, step documents.PlanStep) StepSummary {
	attempts := max(1, step.MaxAttempts)
	var ss StepSummary
	for a := 1; a <= attempts; a++ {
		ss = runStep(ctx, in, stepRunID(in, key, a), step)
		retry := (ss.Status == contract.StatusFailed || ss.Status == contract.StatusTimedOut) && ss.ExitCode != exitFailAndStop
		if !retry {
			break
		}
	}
	if attempts > 1 && ss.Status != contract.StatusSuccess {
		ss.DetailedStatus += fmt.Sprintf(" (after %d attempts)", attempts)
	}
	return ss
}

// Exit codes with which a script asks for a reboot, by platform.
var rebootExitCodes = map[string]int{"linux": 194, "windows": 3010}

// runStep runs one step and turns its result or failure into a summary.
func runStep(ctx workflow.Context, in TargetInput, runID string, step documents.PlanStep) StepSummary {
	timeout := time.Duration(step.TimeoutSeconds) * time.Second
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              contract.RegionTaskQueue(in.Node.Region),
		ScheduleToStartTimeout: stepDeliveryTimeout,
		StartToCloseTimeout:    timeout + 2*time.Minute,
		HeartbeatTimeout:       20 * time.Second,
		RetryPolicy:            stepRetry,
		WaitForCancellation:    true,
	})
	var a *activities.Activities
	var res activities.StepResult
	err := workflow.ExecuteActivity(actx, a.RunStep, activities.RunStepInput{
		NodeID:          in.Node.NodeID,
		RunID:           runID,
		Step:            step,
		AssociationName: in.AssociationName,
		ExecutionID:     in.ExecutionID,
	}).Get(ctx, &res)
	ss := StepSummary{Name: step.Name, ExitCode: res.ExitCode}
	if err != nil {
		ss.ExitCode = -1
		ss.Status, ss.DetailedStatus = failureStatus(err)
		return ss
	}
	switch {
	case res.TimedOut:
		ss.Status, ss.DetailedStatus = contract.StatusTimedOut, fmt.Sprintf("timed out after %s", timeout)
	case res.ExitCode == 0 || res.ExitCode == exitSucceedAndStop:
		ss.Status = contract.StatusSuccess
	case res.ExitCode == rebootExitCodes[in.Node.Platform]:
		ss.Status, ss.DetailedStatus = rebootNode(ctx, in, runID, res.ExitCode)
	case res.ExitCode == exitFailAndStop:
		ss.Status, ss.DetailedStatus = contract.StatusFailed, "exit code 169: document stopped as failed"
	default:
		ss.Status, ss.DetailedStatus = contract.StatusFailed, fmt.Sprintf("exit code %d", res.ExitCode)
	}
	return ss
}

// failureStatus classifies an activity failure: the step never reached
// the node (Undeliverable, DeliveryTimedOut), was cancelled, or failed.
func failureStatus(err error) (string, string) {
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return contract.StatusCancelled, "cancelled"
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) && timeout.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return contract.StatusDeliveryTimedOut, "no worker of the node's region picked the step up"
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if slices.Contains(activities.DeliveryErrors, app.Type()) {
			return contract.StatusUndeliverable, app.Type() + ": " + app.Error()
		}
		return contract.StatusFailed, app.Error()
	}
	if errors.As(err, &timeout) {
		return contract.StatusTimedOut, err.Error()
	}
	return contract.StatusFailed, err.Error()
}

// rebootMargin is what an AwaitBoot activity may take beyond the node's
// reboot timeout, for its last probe and a retry after a worker crash.
const rebootMargin = 2 * time.Minute

// rebootNode reboots the node after a step exited with the reboot code and
// waits until it is back with a new boot id, so the next step runs on the
// rebooted node. It returns the step's status: Success once the node is
// back, TimedOut if it is not back within its reboot timeout, Failed if the
// reboot command failed, Undeliverable if the node could not be reached to
// reboot it.
func rebootNode(ctx workflow.Context, in TargetInput, runID string, exitCode int) (string, string) {
	var a *activities.Activities
	rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              contract.RegionTaskQueue(in.Node.Region),
		ScheduleToStartTimeout: stepDeliveryTimeout,
		StartToCloseTimeout:    2 * time.Minute,
		RetryPolicy:            stepRetry,
	})
	var reboot activities.RebootResult
	if err := workflow.ExecuteActivity(rctx, a.RebootNode, activities.RebootInput{NodeID: in.Node.NodeID, RunID: runID}).Get(ctx, &reboot); err != nil {
		status, detail := failureStatus(err)
		return status, fmt.Sprintf("exit code %d asked for a reboot: %s", exitCode, detail)
	}
	wait := time.Duration(reboot.TimeoutSeconds) * time.Second
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              contract.RegionTaskQueue(in.Node.Region),
		ScheduleToStartTimeout: stepDeliveryTimeout,
		StartToCloseTimeout:    wait + rebootMargin,
		HeartbeatTimeout:       time.Minute,
		RetryPolicy:            stepRetry,
	})
	var bootID string
	err := workflow.ExecuteActivity(actx, a.AwaitBoot, activities.AwaitBootInput{
		NodeID: in.Node.NodeID, BootID: reboot.BootID, Until: workflow.Now(ctx).Add(wait),
	}).Get(ctx, &bootID)
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		return contract.StatusSuccess, fmt.Sprintf("rebooted (exit code %d): boot id %s, then %s", exitCode, reboot.BootID, bootID)
	case errors.As(err, &app) && app.Type() == activities.ErrRebootTimedOut:
		return contract.StatusTimedOut, fmt.Sprintf("rebooted (exit code %d) but the node was not back within %s", exitCode, wait)
	default:
		status, detail := failureStatus(err)
		return status, fmt.Sprintf("rebooted (exit code %d): wait for the node: %s", exitCode, detail)
	}
}

// loadLocalDocument reads and renders the document file of an aws:runDocument LocalPath
// step on the node, in an activity so that the steps it yields are recorded in history.
// It returns those steps, or the summary of the step failed with the reason it cannot run.
func loadLocalDocument(ctx workflow.Context, in TargetInput, step documents.PlanStep) ([]documents.PlanStep, StepSummary) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              contract.RegionTaskQueue(in.Node.Region),
		ScheduleToStartTimeout: stepDeliveryTimeout,
		StartToCloseTimeout:    2 * time.Minute,
		RetryPolicy:            stepRetry,
	})
	var a *activities.Activities
	var res activities.LocalDocumentResult
	err := workflow.ExecuteActivity(actx, a.LoadLocalDocument, activities.LoadLocalDocumentInput{
		NodeID: in.Node.NodeID,
		Step:   step,
	}).Get(ctx, &res)
	if err != nil {
		ss := StepSummary{Name: step.Name, ExitCode: -1}
		ss.Status, ss.DetailedStatus = failureStatus(err)
		// A file that cannot run is the document's failure, not the worker's: its reason
		// alone, without the failure's type and retry flag, is the step's status.
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == activities.ErrLocalDocument {
			ss.DetailedStatus = app.Message()
		}
		return nil, ss
	}
	return res.Steps, StepSummary{}
}
