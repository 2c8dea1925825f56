package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/visibility"
)

// BatchInput is a batch of an execution: its document's plan, to run on
// some nodes of one region.
type BatchInput struct {
	AssociationName string               `json:"associationName"`
	ExecutionID     string               `json:"executionId"`
	Plan            documents.Plan       `json:"plan"`
	Nodes           []contract.TargetRef `json:"nodes"`
	// Concurrency is how many of the nodes may run at once.
	Concurrency int `json:"concurrency"`
	// AllowFailures is how many of the batch's nodes may fail before it
	// starts no more of them: the execution's MaxErrors budget less what the
	// nodes of other batches running at the same time could use. A negative
	// value allows any number.
	AllowFailures int `json:"allowFailures"`
	// ComplianceSeverity is reported with each node's compliance.
	ComplianceSeverity string `json:"complianceSeverity,omitempty"`
}

// batchOutputBytes is the share of Temporal's 2 MB payload limit that the
// output heads of one batch result may take, split evenly over its nodes and
// their steps. The full output goes to the output store.
const batchOutputBytes = 1 << 20

// SSM's document exit codes that end the document early.
const (
	exitSucceedAndStop = 168
	exitFailAndStop    = 169
)

// rebootExitCodes are the exit codes with which a script asks for a
// reboot, by platform.
var rebootExitCodes = map[string]int{"linux": 194, "windows": 3010}

// deliveryRetries is how often a step that could not reach its node is
// tried, with backoff from deliveryBackoff doubling up to thirty seconds.
const deliveryRetries = 5

// deliveryBackoff is the first wait before a step that could not reach its
// node is tried again.
var deliveryBackoff = time.Second

// RunBatch runs a plan on a batch of nodes, at most in.Concurrency at once,
// each node's steps in order with SSM's flow control. A node's failure is a
// result, not an error: the activity fails only when it cannot start at all.
//
// It is safe to run again after a worker dies: every step's run id derives
// from the execution, node, step and attempt, so a second run of the batch
// attaches to the steps still running and collects the finished ones instead
// of running them again.
func (a *Activities) RunBatch(ctx context.Context, in BatchInput) (contract.BatchResult, error) {
	nodes, prior, err := a.loadNodes(ctx, in.Nodes, in.AssociationName)
	if err != nil {
		return contract.BatchResult{}, err
	}
	ctx, running := withRunningNodes(ctx)
	stop := a.heartbeat(ctx)
	defer stop()

	outputShare := batchOutputBytes / max(1, len(in.Nodes)*max(1, len(in.Plan.Steps)))
	res, failures := runBatch(ctx, in, func(ref contract.TargetRef) contract.TargetSummary {
		if a.NodeSlots != nil {
			select {
			case a.NodeSlots <- struct{}{}:
				defer func() { <-a.NodeSlots }()
			case <-ctx.Done():
				return contract.TargetSummary{NodeID: ref.NodeID, Status: contract.StatusCancelled, DetailedStatus: "cancelled", ExitCode: -1}
			}
		}
		a.nodeStarted(ctx, in, ref)
		running.start(ref.NodeID, a.now())
		sum := runNode(ctx, a, in, ref, nodes[ref.NodeID], outputShare)
		running.end(ref.NodeID)
		a.nodeEnded(ctx, in, ref, sum)
		if sum.Status != contract.StatusSuccess {
			activity.GetLogger(ctx).Warn("node did not succeed", "node", sum.NodeID, "status", sum.Status, "detail", sum.DetailedStatus)
		}
		a.reportCompliance(ctx, in, sum, prior[ref.NodeID])
		return sum
	})
	activity.GetLogger(ctx).Info("batch finished", "execution", in.ExecutionID, "nodes", len(res.Nodes), "failures", failures, "notStarted", len(res.NotStarted))
	return res, nil
}

// runBatch calls run on the batch's nodes in order, at most in.Concurrency
// at once, and starts no more of them once more than in.AllowFailures have
// failed or ctx is done. It returns the summaries of the nodes it ran, in
// the batch's order, the nodes it did not start, and how many failed.
func runBatch(ctx context.Context, in BatchInput, run func(contract.TargetRef) contract.TargetSummary) (contract.BatchResult, int) {
	results := make([]*contract.TargetSummary, len(in.Nodes))
	var (
		mu       sync.Mutex
		failures int
		wg       sync.WaitGroup
	)
	slots := make(chan struct{}, max(1, in.Concurrency))
	started := 0
	for i, ref := range in.Nodes {
		slots <- struct{}{}
		mu.Lock()
		exhausted := in.AllowFailures >= 0 && failures > in.AllowFailures
		mu.Unlock()
		if exhausted || ctx.Err() != nil {
			<-slots
			break
		}
		started++
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			sum := run(ref)
			mu.Lock()
			results[i] = &sum
			if countsAsError(sum.Status) {
				failures++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	var res contract.BatchResult
	for i, ref := range in.Nodes {
		if i >= started {
			res.NotStarted = append(res.NotStarted, ref.NodeID)
			continue
		}
		res.Nodes = append(res.Nodes, *results[i])
	}
	return res, failures
}

// countsAsError reports whether a node's final status counts against
// MaxErrors: every status but success, skip and cancellation.
func countsAsError(status string) bool {
	switch status {
	case contract.StatusFailed, contract.StatusTimedOut, contract.StatusUndeliverable, contract.StatusDeliveryTimedOut:
		return true
	}
	return false
}

// nodeQueryIDs is how many node ids one visibility query names.
const nodeQueryIDs = 100

// loadNodes reads the specs of the batch's nodes with a few visibility
// listings instead of one lookup per node. A node missing from the result is
// not registered (any more).
func (a *Activities) loadNodes(ctx context.Context, refs []contract.TargetRef, association string) (map[string]*node.Node, map[string]*contract.ComplianceRecord, error) {
	nodes := make(map[string]*node.Node, len(refs))
	prior := make(map[string]*contract.ComplianceRecord, len(refs))
	for chunk := range slices.Chunk(refs, nodeQueryIDs) {
		ids := make([]string, len(chunk))
		for i, r := range chunk {
			// Ids go into a query: only valid ones, which hold no quotes.
			if err := node.ValidID(r.NodeID); err != nil {
				return nil, nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrNodeNotFound, nil)
			}
			ids[i] = r.NodeID
		}
		q := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND %s", contract.NodeWorkflow, idsClause(ids))
		err := visibility.Each(ctx, a.Client, a.Namespace, q, "nodes", func(e *workflowpb.WorkflowExecutionInfo) error {
			n, ok, err := node.Decode(a.converter(), e)
			if !ok || err != nil {
				return err
			}
			nodes[n.ID] = &n
			records, err := node.DecodeCompliance(a.converter(), n.ID, e.GetMemo())
			if i := slices.IndexFunc(records, func(r contract.ComplianceRecord) bool { return r.Association == association }); i >= 0 {
				prior[n.ID] = &records[i]
			}
			return err
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return nodes, prior, nil
}

// nodeOps is what a batch does on a node, one operation at a time; the
// Activities implement it, and tests put a fake in its place to check the
// flow control alone.
type nodeOps interface {
	now() time.Time
	runStepOn(ctx context.Context, n node.Node, in RunStepInput) (StepResult, error)
	runStepsOn(ctx context.Context, n node.Node, ins []RunStepInput, cont []bool) []StepResult
	rebootNodeOn(ctx context.Context, n node.Node, in RebootInput) (RebootResult, error)
	awaitBootOn(ctx context.Context, n node.Node, in AwaitBootInput) (string, error)
	loadLocalDocumentOn(ctx context.Context, n node.Node, in LoadLocalDocumentInput) (LocalDocumentResult, error)
}

// nodeRun is one node's part of a batch.
type nodeRun struct {
	ops         nodeOps
	in          BatchInput
	n           node.Node
	outputShare int
	// ran holds, by run id, the results of steps a sequence ran ahead of
	// the flow control below, which takes each as its step comes up.
	ran map[string]StepResult
}

// runNode runs the plan's steps on one node as SSM does: a failed step ends
// the document unless its onFailure says continue (the document still ends
// Failed) or successAndExit (it ends Succeeded); onSuccess exit and exit
// code 168 end it as succeeded, 169 as failed; the finally step runs even
// after an earlier step ended the document; a failed step runs again up to
// maxAttempts times. A node that cannot be reached, or a cancelled run, ends
// everything: the finally step cannot run either.
func runNode(ctx context.Context, ops nodeOps, in BatchInput, ref contract.TargetRef, n *node.Node, outputShare int) contract.TargetSummary {
	sum := contract.TargetSummary{NodeID: ref.NodeID, Status: contract.StatusInProgress, StartedAt: ops.now()}
	if n == nil {
		sum.Status, sum.DetailedStatus, sum.ExitCode = contract.StatusUndeliverable, ErrNodeNotFound+": node "+ref.NodeID+" is not registered", -1
		sum.EndedAt = ops.now()
		return sum
	}
	r := nodeRun{ops: ops, in: in, n: *n, outputShare: outputShare, ran: map[string]StepResult{}}
	stopped, terminal, failed := false, false, false
	fail := func(ss contract.StepSummary, name, note string) {
		if !failed {
			failed = true
			sum.Status = ss.Status
			sum.DetailedStatus = fmt.Sprintf("step %s: %s%s", name, ss.DetailedStatus, note)
		}
	}
	// queue is the plan's steps, into which an aws:runDocument LocalPath
	// step's document is spliced when the step is reached. A plan step keeps
	// its index as its run key; a spliced step's key extends its parent's,
	// and its source names the file it came from.
	type queued struct {
		step        documents.PlanStep
		key, source string
	}
	queue := make([]queued, len(in.Plan.Steps))
	for i, step := range in.Plan.Steps {
		queue[i] = queued{step: step, key: strconv.Itoa(i)}
	}
	for i := 0; i < len(queue); i++ {
		step, key := queue[i].step, queue[i].key
		if terminal || (stopped && !step.FinallyStep) {
			sum.Steps = append(sum.Steps, contract.StepSummary{Name: step.Name, Status: contract.StatusSkipped, DetailedStatus: "an earlier step ended the document"})
			continue
		}
		if skipped, ok := r.skip(step); ok {
			sum.Steps = append(sum.Steps, skipped)
			continue
		}
		var ss contract.StepSummary
		switch {
		case step.Refused != "":
			ss = contract.StepSummary{Name: step.Name, Status: contract.StatusFailed, DetailedStatus: step.Refused, ExitCode: -1}
		case step.LocalDocument != nil:
			var doc LocalDocumentResult
			doc, ss = r.loadLocalDocument(ctx, step)
			if ss.Status == "" {
				spliced := make([]queued, len(doc.Steps))
				for j, c := range doc.Steps {
					spliced[j] = queued{step: c, key: key + "." + strconv.Itoa(j), source: doc.Path + " (" + doc.Hash + ")"}
				}
				queue = slices.Insert(queue, i+1, spliced...)
				continue
			}
		default:
			var run []documents.PlanStep
			var keys []string
			for j := i; j < len(queue) && r.sequenced(queue[j].step) && (j == i || queue[j-1].step.OnSuccess != documents.OnSuccessExit); j++ {
				run, keys = append(run, queue[j].step), append(keys, queue[j].key)
			}
			r.runAhead(ctx, keys, run)
			ss = r.runAttempts(ctx, key, step)
		}
		ss.Source = queue[i].source
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
	if sum.Status == contract.StatusInProgress {
		sum.Status = contract.StatusSuccess
	}
	sum.EndedAt = ops.now()
	return sum
}

// sequenced reports whether a step may run in a sequence of steps in one
// node session: a plain script step that runs on this node.
func (r nodeRun) sequenced(step documents.PlanStep) bool {
	_, skipped := r.skip(step)
	return !skipped && step.Refused == "" && step.LocalDocument == nil && step.Download == nil
}

// runAhead runs the first attempts of steps, whose run keys are keys, in
// one node session, going from one to the next on plain success (exit code
// 0: no 168, 169 or reboot code, no onSuccess exit), and keeps their
// results for runStep, unless an earlier sequence ran the first step
// already. Whatever needs this flow control (a failure, a
// special exit code, a retry) ends the sequence and is decided here as
// each step comes up. A single step is left to runStep.
func (r nodeRun) runAhead(ctx context.Context, keys []string, steps []documents.PlanStep) {
	if len(steps) < 2 {
		return
	}
	if _, ok := r.ran[r.runID(keys[0], 1)]; ok {
		return
	}
	ins := make([]RunStepInput, len(steps))
	cont := make([]bool, len(steps))
	for i, step := range steps {
		ins[i] = RunStepInput{NodeID: r.n.ID, RunID: r.runID(keys[i], 1), Step: step, AssociationName: r.in.AssociationName, ExecutionID: r.in.ExecutionID}
		cont[i] = i+1 < len(steps) && step.OnSuccess != documents.OnSuccessExit && !steps[i+1].StartedByWorker
	}
	for i, res := range r.ops.runStepsOn(ctx, r.n, ins, cont) {
		r.ran[ins[i].RunID] = res
	}
}

// skip returns the summary of a step that does not run on this node: its
// precondition is false, or it is for another platform.
func (r nodeRun) skip(step documents.PlanStep) (contract.StepSummary, bool) {
	if step.Skipped {
		return contract.StepSummary{Name: step.Name, Status: contract.StatusSkipped, DetailedStatus: step.SkipReason}, true
	}
	if len(step.Platforms) > 0 && !slices.Contains(step.Platforms, r.n.Platform) {
		return contract.StepSummary{Name: step.Name, Status: contract.StatusSkipped, DetailedStatus: fmt.Sprintf("precondition: platform %s is not %v", r.n.Platform, step.Platforms)}, true
	}
	return contract.StepSummary{}, false
}

// runID names a step's run on a node. Each attempt is a run of its own: a
// detached run executes at most once, which is what lets a second run of a
// batch collect its result.
func (r nodeRun) runID(key string, attempt int) string {
	id := fmt.Sprintf("%s-%s-%s", r.in.ExecutionID, r.n.ID, key)
	if attempt > 1 {
		id += fmt.Sprintf("-a%d", attempt)
	}
	return id
}

// runAttempts runs a step up to its MaxAttempts times while it fails
// (Failed or TimedOut; exit code 169 is a decision, not a failure to
// retry). The last attempt decides; the earlier ones are kept in it.
func (r nodeRun) runAttempts(ctx context.Context, key string, step documents.PlanStep) contract.StepSummary {
	attempts := max(1, step.MaxAttempts)
	var earlier []contract.StepSummary
	for a := 1; ; a++ {
		ss := r.runStep(ctx, r.runID(key, a), step)
		ss.Attempt = a
		retry := (ss.Status == contract.StatusFailed || ss.Status == contract.StatusTimedOut) && ss.ExitCode != exitFailAndStop
		if !retry || a == attempts {
			ss.Earlier = earlier
			if a > 1 && ss.Status != contract.StatusSuccess {
				ss.DetailedStatus += fmt.Sprintf(" (after %d attempts)", a)
			}
			return ss
		}
		earlier = append(earlier, ss)
	}
}

// runStep runs one step and turns its result or failure into a summary.
func (r nodeRun) runStep(ctx context.Context, runID string, step documents.PlanStep) contract.StepSummary {
	res, err := retryDelivery(ctx, func() (StepResult, error) {
		if res, ok := r.ran[runID]; ok {
			return res, nil
		}
		return r.ops.runStepOn(ctx, r.n, RunStepInput{
			NodeID: r.n.ID, RunID: runID, Step: step,
			AssociationName: r.in.AssociationName, ExecutionID: r.in.ExecutionID,
		})
	})
	ss := contract.StepSummary{Name: step.Name, ExitCode: res.ExitCode, Resumed: res.Resumed, OutputStoreError: res.OutputStoreError,
		OutputURL: res.OutputURL, StartedAt: res.StartedAt, EndedAt: res.EndedAt}
	ss.Stdout, ss.StdoutTruncated = head(res.Stdout, res.StdoutTruncated, r.outputShare)
	ss.Stderr, ss.StderrTruncated = head(res.Stderr, res.StderrTruncated, r.outputShare-len(ss.Stdout))
	if err != nil {
		ss.ExitCode = -1
		ss.Status, ss.DetailedStatus = failureStatus(ctx, err)
		return ss
	}
	switch {
	case res.TimedOut:
		ss.Status, ss.DetailedStatus = contract.StatusTimedOut, fmt.Sprintf("timed out after %s", time.Duration(step.TimeoutSeconds)*time.Second)
	case res.ExitCode == 0 || res.ExitCode == exitSucceedAndStop:
		ss.Status = contract.StatusSuccess
	case res.ExitCode == rebootExitCodes[r.n.Platform]:
		ss.Status, ss.DetailedStatus = r.reboot(ctx, runID, res.ExitCode)
	case res.ExitCode == exitFailAndStop:
		ss.Status, ss.DetailedStatus = contract.StatusFailed, "exit code 169: document stopped as failed"
	default:
		ss.Status, ss.DetailedStatus = contract.StatusFailed, fmt.Sprintf("exit code %d", res.ExitCode)
	}
	return ss
}

// head is the start of a step's output stream that fits in share bytes,
// and whether it is only part of what the step printed.
func head(out string, truncated bool, share int) (string, bool) {
	if len(out) > max(0, share) {
		return out[:max(0, share)], true
	}
	return out, truncated
}

// reboot reboots the node after a step exited with the reboot code and
// waits until it is back with a new boot id, so the next step runs on the
// rebooted node. It returns the step's status: Success once the node is
// back, TimedOut if it is not back within its reboot timeout, Failed if the
// reboot command failed, Undeliverable if the node could not be reached to
// reboot it.
func (r nodeRun) reboot(ctx context.Context, runID string, exitCode int) (string, string) {
	rb, err := retryDelivery(ctx, func() (RebootResult, error) {
		return r.ops.rebootNodeOn(ctx, r.n, RebootInput{NodeID: r.n.ID, RunID: runID})
	})
	if err != nil {
		status, detail := failureStatus(ctx, err)
		return status, fmt.Sprintf("exit code %d asked for a reboot: %s", exitCode, detail)
	}
	wait := time.Duration(rb.TimeoutSeconds) * time.Second
	bootID, err := r.ops.awaitBootOn(ctx, r.n, AwaitBootInput{NodeID: r.n.ID, BootID: rb.BootID, Until: r.ops.now().Add(wait)})
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		return contract.StatusSuccess, fmt.Sprintf("rebooted (exit code %d): boot id %s, then %s", exitCode, rb.BootID, bootID)
	case errors.As(err, &app) && app.Type() == ErrRebootTimedOut:
		return contract.StatusTimedOut, fmt.Sprintf("rebooted (exit code %d) but the node was not back within %s", exitCode, wait)
	default:
		status, detail := failureStatus(ctx, err)
		return status, fmt.Sprintf("rebooted (exit code %d): wait for the node: %s", exitCode, detail)
	}
}

// loadLocalDocument reads and renders the document file of an
// aws:runDocument LocalPath step on the node. It returns the file with the
// steps to run in its place, or the summary of the step failed with the
// reason it cannot run.
func (r nodeRun) loadLocalDocument(ctx context.Context, step documents.PlanStep) (LocalDocumentResult, contract.StepSummary) {
	res, err := retryDelivery(ctx, func() (LocalDocumentResult, error) {
		return r.ops.loadLocalDocumentOn(ctx, r.n, LoadLocalDocumentInput{NodeID: r.n.ID, Step: step})
	})
	if err != nil {
		ss := contract.StepSummary{Name: step.Name, ExitCode: -1}
		ss.Status, ss.DetailedStatus = failureStatus(ctx, err)
		return LocalDocumentResult{}, ss
	}
	return res, contract.StepSummary{}
}

// retryDelivery calls f until it succeeds, fails for good (a non-retryable
// application error, or the batch was cancelled), or has failed
// deliveryRetries times, waiting with backoff in between: a node that is
// briefly unreachable gets the same patience a retried activity would.
func retryDelivery[T any](ctx context.Context, f func() (T, error)) (T, error) {
	wait := deliveryBackoff
	for attempt := 1; ; attempt++ {
		v, err := f()
		var app *temporal.ApplicationError
		if err == nil || ctx.Err() != nil || attempt == deliveryRetries || (errors.As(err, &app) && app.NonRetryable()) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// failureStatus classifies why a step did not run to an exit code: the
// node could not be reached (Undeliverable), the execution was cancelled,
// or the step failed.
func failureStatus(ctx context.Context, err error) (string, string) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return contract.StatusCancelled, "cancelled"
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if slices.Contains(DeliveryErrors, app.Type()) {
			return contract.StatusUndeliverable, app.Type() + ": " + app.Message()
		}
		return contract.StatusFailed, app.Message()
	}
	return contract.StatusFailed, err.Error()
}

// reportCompliance tells the node's workflow how the association's run
// ended there, when that changes the node's compliance: at steady state a
// run writes nothing to its nodes, and a fleet's run costs the Temporal
// server its batches only. prior is the node's record as the batch's
// listing saw it. A node deregistered meanwhile has no workflow to tell; a
// signal that cannot be sent is logged, never a reason to fail the batch.
func (a *Activities) reportCompliance(ctx context.Context, in BatchInput, sum contract.TargetSummary, prior *contract.ComplianceRecord) {
	r := contract.ComplianceRecord{
		Association: in.AssociationName,
		Status:      contract.Compliant,
		Severity:    in.ComplianceSeverity,
		ExecutionID: in.ExecutionID,
		At:          sum.StartedAt,
	}
	if sum.Status != contract.StatusSuccess {
		r.Status = contract.NonCompliant
	}
	if r.Severity == "" {
		r.Severity = "UNSPECIFIED"
	}
	if sum.Status == contract.StatusCancelled && ctx.Err() != nil {
		return
	}
	if sameCompliance(prior, r) && a.complianceHolds(ctx, sum.NodeID, r) {
		return
	}
	if err := a.Client.SignalWorkflow(ctx, contract.NodeWorkflowID(sum.NodeID), "", contract.SignalCompliance, r); err != nil {
		activity.GetLogger(ctx).Warn("report compliance", "node", sum.NodeID, "error", err)
	}
}

// sameCompliance reports whether record r would leave a node's record
// prior as it is.
func sameCompliance(prior *contract.ComplianceRecord, r contract.ComplianceRecord) bool {
	return prior != nil && prior.Status == r.Status && prior.Severity == r.Severity
}

// complianceHolds checks, on the node workflow itself, that r changes
// nothing there: a visibility listing can lag behind, so a record it shows
// may already be replaced by a signal not yet visible, or one still waiting
// for the workflow to take it. Describing the workflow reads its current
// memo and pending work without writing anything; in doubt, it says no.
func (a *Activities) complianceHolds(ctx context.Context, nodeID string, r contract.ComplianceRecord) bool {
	d, err := a.Client.DescribeWorkflowExecution(ctx, contract.NodeWorkflowID(nodeID), "")
	if err != nil || d.GetPendingWorkflowTask() != nil {
		return false
	}
	records, err := node.DecodeCompliance(a.converter(), nodeID, d.GetWorkflowExecutionInfo().GetMemo())
	if err != nil {
		return false
	}
	i := slices.IndexFunc(records, func(x contract.ComplianceRecord) bool { return x.Association == r.Association })
	return i >= 0 && sameCompliance(&records[i], r)
}
