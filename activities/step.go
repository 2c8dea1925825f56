package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/transport"
)

// Output kept in a step result, and so in history: the first 24,000
// characters of stdout and 8,000 of stderr, as SSM keeps in its console.
const (
	StdoutLimit = 24000
	StderrLimit = 8000
)

// RunStepInput is one step of a plan on one node.
type RunStepInput struct {
	NodeID string             `json:"nodeId"`
	RunID  string             `json:"runId"`
	Step   documents.PlanStep `json:"step"`
	// AssociationName and ExecutionID file the step's full output in the
	// output store; steps scheduled before they existed store none.
	AssociationName string `json:"associationName,omitempty"`
	ExecutionID     string `json:"executionId,omitempty"`
}

// StepResult is what a step did on a node. A non-zero exit code is a
// result, not an activity failure.
type StepResult struct {
	Step            string    `json:"step"`
	ExitCode        int       `json:"exitCode"`
	TimedOut        bool      `json:"timedOut,omitempty"`
	Stdout          string    `json:"stdout"`
	Stderr          string    `json:"stderr"`
	StdoutTruncated bool      `json:"stdoutTruncated,omitempty"`
	StderrTruncated bool      `json:"stderrTruncated,omitempty"`
	StartedAt       time.Time `json:"startedAt"`
	EndedAt         time.Time `json:"endedAt"`
	Resumed         bool      `json:"resumed,omitempty"`
	Attempt         int32     `json:"attempt"`
	// OutputStoreError says why the full output is missing from the
	// worker's output store, if it is.
	OutputStoreError string `json:"outputStoreError,omitempty"`
	// OutputURL is where the full output went when it is not the worker's
	// own disk: s3://bucket/prefix/<execution>/<node>/<step>/.
	OutputURL string `json:"outputUrl,omitempty"`
}

// runStepOn runs one rendered step on the node n, detached from the
// connection: if the worker dies or the connection drops, running it again
// with the same run id collects the result of the run already under way
// instead of starting the step again. The runner for n's
// platform runs the step over the connection n's transport gives.
func (a *Activities) runStepOn(ctx context.Context, n node.Node, in RunStepInput) (StepResult, error) {
	info := activity.GetInfo(ctx)
	res := StepResult{Step: in.Step.Name, StartedAt: a.now(), Attempt: info.Attempt}
	if in.Step.Refused != "" {
		return res, temporal.NewNonRetryableApplicationError(in.Step.Refused, ErrInvalidStep, nil)
	}
	rn, err := a.runnerFor(n)
	if err != nil {
		return res, err
	}
	if in.Step.Download != nil {
		return a.runDownload(ctx, rn, n, in, res)
	}
	if in.Step.Shell != "" && in.Step.Shell != rn.Shell() {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("shell %s is not available on node %s", in.Step.Shell, n.ID), ErrInvalidStep, nil)
	}
	// Secrets: resolved here, redacted below (activities/secrets.go).
	env, redact, err := a.stepEnv(in)
	if err != nil {
		return res, err
	}
	conn, err := a.connect(ctx, n)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	r, err := rn.Run(ctx, conn, stepSpec(n, in, env), func() { recordHeartbeat(ctx) })
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, redactError(redact, deliveryError(err))
	}
	a.finishStep(ctx, n, in, output{runner: rn, conn: conn, redact: redact, run: r}, &res)
	return res, nil
}

// stepSpec is the runner's spec of a plain step.
func stepSpec(n node.Node, in RunStepInput, env []runner.EnvVar) runner.Spec {
	return runner.Spec{
		RunID:            in.RunID,
		Script:           in.Step.Script,
		Env:              env,
		WorkingDirectory: in.Step.WorkingDirectory,
		Timeout:          time.Duration(in.Step.TimeoutSeconds) * time.Second,
		StdoutLimit:      StdoutLimit,
		StderrLimit:      StderrLimit,
		Sudo:             n.Sudo,
	}
}

// finishStep fills res with the run's outcome, its output redacted, and
// files the full output in the output store.
func (a *Activities) finishStep(ctx context.Context, n node.Node, in RunStepInput, o output, res *StepResult) {
	r := o.run
	res.ExitCode = r.ExitCode
	res.TimedOut = r.TimedOut
	res.Stdout, res.Stderr = r.Stdout, r.Stderr
	res.StdoutTruncated, res.StderrTruncated = r.StdoutTruncated, r.StderrTruncated
	redactOutput(o.redact, res)
	res.Resumed = r.Resumed
	// Output store (issue 4): the full output, beyond what history keeps;
	// secrets never reach it.
	res.OutputURL, res.OutputStoreError = a.storeOutput(ctx, o, in)
	res.EndedAt = a.now()
	activity.GetLogger(ctx).Info("step finished", "node", n.ID, "step", in.Step.Name, "exitCode", r.ExitCode, "timedOut", r.TimedOut)
}

// runStepsOn runs plain steps of a plan on n in one session, when n's
// runner can (runner.Sequencer): the node goes on from step i to step
// i+1 only after plain success where cont[i] allows it, and hands every
// other outcome back. It returns the results of the steps that ended with
// an exit code, in order; a step that could not be run or collected is
// not among them, so the caller runs it on its own, with the retries and
// errors of runStepOn. Nil when the runner cannot run sequences.
func (a *Activities) runStepsOn(ctx context.Context, n node.Node, ins []RunStepInput, cont []bool) []StepResult {
	rn, err := a.runnerFor(n)
	if err != nil {
		return nil
	}
	seq, ok := rn.(runner.Sequencer)
	if !ok {
		return nil
	}
	steps := make([]runner.SequenceStep, len(ins))
	redacts := make([]output, len(ins))
	for i, in := range ins {
		if in.Step.Refused != "" || in.Step.Download != nil || (in.Step.Shell != "" && in.Step.Shell != rn.Shell()) {
			return nil
		}
		env, redact, err := a.stepEnv(in)
		if err != nil {
			return nil
		}
		steps[i] = runner.SequenceStep{Spec: stepSpec(n, in, env), Continue: cont[i]}
		redacts[i] = output{runner: rn, redact: redact}
	}
	conn, err := a.connect(ctx, n)
	if err != nil {
		return nil
	}
	defer conn.Close()
	attempt := activity.GetInfo(ctx).Attempt
	times := make([]time.Time, len(ins)+1)
	times[0] = a.now()
	rs, err := seq.RunSequence(ctx, conn, steps, func() { recordHeartbeat(ctx) }, func(i int) { times[i+1] = a.now() })
	if err != nil {
		activity.GetLogger(ctx).Info("steps handed back to run one by one", "node", n.ID, "reported", len(rs), "error", redactError(redacts[min(len(rs), len(ins)-1)].redact, err))
		if errors.Is(err, runner.ErrInterrupted) {
			rs = rs[:len(rs)-1]
		}
	}
	results := make([]StepResult, len(rs))
	for i, r := range rs {
		results[i] = StepResult{Step: ins[i].Step.Name, StartedAt: times[i], Attempt: attempt}
		o := redacts[i]
		o.conn, o.run = conn, r
		a.finishStep(ctx, n, ins[i], o, &results[i])
		results[i].EndedAt = times[i+1]
	}
	return results
}

// deliveryError maps a transport failure to an activity error: permanent
// ones (host key, authentication, missing credential) are non-retryable with
// a typed reason; an unreachable node is retried with backoff.
func deliveryError(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	// The message is the whole story: a cause would print it a second time
	// wherever the error is shown in full.
	return temporal.NewApplicationErrorWithOptions(err.Error(), string(te.Kind), temporal.ApplicationErrorOptions{NonRetryable: !te.Retryable()})
}
