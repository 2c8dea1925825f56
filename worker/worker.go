// Package worker wires Stead's workflows and activities into Temporal
// workers. It is the one place that does, so `stead worker`, `stead dev`
// and the integration tests run exactly the same registration.
package worker

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/runner/posix"
	"github.com/stead-io/stead/internal/runner/powershell"
	"github.com/stead-io/stead/workflows"
)

// Activities is the set of activities a worker registers, with the
// dependencies they are given (transport, output store, secrets, ...): a
// process that runs a worker configures it through this package.
type Activities = activities.Activities

// Options configure a Stead worker.
type Options struct {
	// Client is the connection to Temporal.
	Client client.Client
	// Region is the region whose nodes this worker runs steps on; ""
	// is the default region.
	Region string
	// Activities carries the activities' dependencies. Run uses
	// DefaultRunners when its Runners is nil.
	Activities *Activities
	// MaxConcurrentSteps bounds the steps this worker runs at once: the
	// nodes its batches run on, and the activities it runs.
	MaxConcurrentSteps int
}

// DefaultRunners is the runner of each node platform Stead supports:
// POSIX sh for linux, Windows PowerShell for windows.
func DefaultRunners() *runner.Registry {
	return runner.NewRegistry(map[string]runner.Runner{node.PlatformLinux: posix.Runner{}, node.PlatformWindows: powershell.Runner{}})
}

// RegisterWorkflows registers every Stead workflow on a worker.
func RegisterWorkflows(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(workflows.NodeWorkflow, workflow.RegisterOptions{Name: contract.NodeWorkflow})
	r.RegisterWorkflowWithOptions(workflows.AssociationWorkflow, workflow.RegisterOptions{Name: contract.AssociationWorkflow})
	r.RegisterWorkflowWithOptions(workflows.ExecutionWorkflow, workflow.RegisterOptions{Name: contract.ExecutionWorkflow})
	r.RegisterWorkflowWithOptions(workflows.DocumentWorkflow, workflow.RegisterOptions{Name: contract.DocumentWorkflow})
	r.RegisterWorkflowWithOptions(workflows.AuditWorkflow, workflow.RegisterOptions{Name: contract.AuditWorkflow})
	r.RegisterWorkflowWithOptions(workflows.AuditSegmentWorkflow, workflow.RegisterOptions{Name: contract.AuditSegmentWorkflow})
}

// Pollers per task queue. The SDK's default of two keeps a fan-out
// waiting on dispatch rather than on work: each target needs a few
// workflow tasks of a few milliseconds each, and with two long polls in
// flight a 200-target run spent most of a target's life (1.8 s of 2.9 s)
// between a workflow task being scheduled and being picked up, with the
// worker's CPU mostly idle. More pollers cost one idle gRPC long poll each.
const (
	workflowTaskPollers = 16
	stepTaskPollers     = 8
)

// Run polls the shared workflow queue and the region's step queue until
// ctx is done or a worker fails.
func Run(ctx context.Context, opts Options) error {
	steps := opts.MaxConcurrentSteps
	if steps <= 0 {
		steps = 200
	}
	acts := *opts.Activities // the caller's stays as it is
	if acts.Runners == nil {
		acts.Runners = DefaultRunners()
	}
	if acts.NodeSlots == nil {
		acts.NodeSlots = make(chan struct{}, steps)
	}
	control := worker.New(opts.Client, contract.TaskQueue, worker.Options{
		MaxConcurrentWorkflowTaskPollers: workflowTaskPollers,
	})
	RegisterWorkflows(control)
	control.RegisterActivity(&acts)

	regional := worker.New(opts.Client, contract.RegionTaskQueue(opts.Region), worker.Options{
		MaxConcurrentActivityExecutionSize: steps,
		MaxConcurrentActivityTaskPollers:   stepTaskPollers,
	})
	regional.RegisterActivity(&acts)

	if err := control.Start(); err != nil {
		return fmt.Errorf("start workflow worker: %w", err)
	}
	defer control.Stop()
	if err := regional.Start(); err != nil {
		return fmt.Errorf("start step worker for region %s: %w", regionName(opts.Region), err)
	}
	defer regional.Stop()
	<-ctx.Done()
	return nil
}

func regionName(r string) string {
	if r == "" {
		return contract.DefaultRegion
	}
	return r
}
