package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/devserver"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/worker"
	"github.com/stead-io/stead/workflows"
)

// scaleTargets is how many nodes TestExecutionStateStaysBounded runs on:
// STEAD_SCALE_TARGETS, 2,000 by default (`make test-scale` runs 50,000).
func scaleTargets(t *testing.T) int {
	n := 2000
	if v := os.Getenv("STEAD_SCALE_TARGETS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "STEAD_SCALE_TARGETS")
	}
	return n
}

// Bounds every history and payload of an execution must keep, whatever
// the fleet: Temporal warns at 10,240 events and refuses payloads over 2 MB.
const (
	maxEventsPerRun  = 10240
	maxPayloadBytes  = 1536 << 10
	maxCompletedSize = 2 << 20
)

// TestExecutionStateStaysBounded runs one execution over a large fleet of
// nodes reached through a fake communicator and a fake runner (nothing here
// can host thousands of real hosts), on a real Temporal server and a real
// worker: every node runs its step exactly once, and no history and no
// payload of the execution grows with the fleet.
func TestExecutionStateStaysBounded(t *testing.T) {
	n := scaleTargets(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Config{DataDir: t.TempDir(), UIPort: -1, SearchAttributes: contract.SearchAttributes()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	require.NoError(t, err)
	defer c.Close()

	fleet := &fakeFleet{}
	pool := transport.NewPool(transport.NewRegistry(map[string]transport.Protocol{transport.KindSSH: fleet}), time.Minute)
	defer pool.Close()
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Options{Client: c, MaxConcurrentSteps: 50, Activities: &activities.Activities{
			Client: c, Namespace: "default", HeartbeatEvery: 2 * time.Second,
			Nodes: pool, Runners: runner.NewRegistry(map[string]runner.Runner{"linux": fleet}),
		}})
	}()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	start := time.Now()
	registerFleet(ctx, t, c, n)
	t.Logf("registered %d nodes in %s", n, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	const name = "scale"
	spec := workflows.AssociationSpec{
		Name: name, Document: "AWS-RunShellScript", Parameters: map[string]any{"commands": "true"},
		Targets:        []targets.Target{{Key: "tag:fleet", Values: []string{"scale"}}},
		MaxConcurrency: ratecontrol.FromText("500"), MaxErrors: ratecontrol.FromText("0"),
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.AssociationWorkflowID(name), TaskQueue: contract.TaskQueue},
		contract.AssociationWorkflow, workflows.CreateAssociationInput{Spec: spec, By: "test", ExecutionID: "00000000-0000-0000-0000-000000000001"}, (*workflows.AssociationState)(nil))
	require.NoError(t, err)
	execID := contract.ExecutionWorkflowID(name, "00000000-0000-0000-0000-000000000001")
	var res workflows.ExecutionResult
	// The association's first workflow task waits in the task queue
	// behind the first tasks of the nodes just started.
	require.Eventually(t, func() bool {
		_, err := c.DescribeWorkflowExecution(ctx, execID, "")
		return err == nil
	}, time.Minute+time.Duration(n)*5*time.Millisecond, 100*time.Millisecond, "the execution started")
	t.Logf("the execution started after %s", time.Since(start).Round(time.Millisecond))
	require.NoError(t, c.GetWorkflow(ctx, execID, "").Get(ctx, &res))
	took := time.Since(start)

	require.Equal(t, contract.StatusSuccess, res.Status, res.DetailedStatus)
	require.Equal(t, workflows.Counts{Total: n, Success: n}, res.Counts)
	require.Equal(t, n, fleet.runs(), "every node ran its step")
	require.Equal(t, n, fleet.distinctRuns(), "each once, under its own run id")

	// Every run of the execution, and the association, stays small.
	events, runs := 0, 0
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = '%s'", execID), PageSize: 1000})
	require.NoError(t, err)
	for _, e := range resp.Executions {
		h := history(ctx, t, c, execID, e.GetExecution().GetRunId())
		require.Less(t, len(h), maxEventsPerRun, "events in run %s", e.GetExecution().GetRunId())
		for _, ev := range h {
			require.Less(t, proto.Size(ev), maxPayloadBytes, "event %d (%s) of run %s", ev.GetEventId(), ev.GetEventType(), e.GetExecution().GetRunId())
		}
		events += len(h)
		runs++
	}
	require.Equal(t, res.Runs, runs, "the result counts the runs")
	assoc := history(ctx, t, c, contract.AssociationWorkflowID(name), "")
	require.Less(t, len(assoc), 100, "the association's history does not grow with the fleet")
	t.Logf("%d targets: %s, %d batches, %d runs, %d execution events (%.3f per target), largest payload bounded by %d KB",
		n, took.Round(time.Millisecond), res.Batches, runs, events, float64(events)/float64(n), maxPayloadBytes>>10)

	// A second run that changes no node's compliance writes nothing to the
	// nodes: their histories stay as they were.
	require.Eventually(t, func() bool {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = '%s' AND %s = '%s=%s'", contract.NodeWorkflow, contract.AttrCompliance.GetName(), name, contract.Compliant),
		})
		return err == nil && resp.GetCount() == int64(n)
	}, time.Minute+time.Duration(n)*30*time.Millisecond, 200*time.Millisecond, "every node's compliance is recorded")
	sample := make(map[string]int64)
	for i := 0; i < n; i += max(1, n/50) {
		id := contract.NodeWorkflowID(fmt.Sprintf("n%06d", i))
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		require.NoError(t, err)
		sample[id] = d.GetWorkflowExecutionInfo().GetHistoryLength()
	}
	start = time.Now()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: contract.AssociationWorkflowID(name), UpdateName: contract.AssociationUpdateStart,
		Args: []any{workflows.StartRequest{By: "test"}}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	require.NoError(t, err)
	var second string
	require.NoError(t, h.Get(ctx, &second))
	execID = contract.ExecutionWorkflowID(name, second)
	require.Eventually(t, func() bool {
		_, err := c.DescribeWorkflowExecution(ctx, execID, "")
		return err == nil
	}, time.Minute, 100*time.Millisecond, "the second execution started")
	require.NoError(t, c.GetWorkflow(ctx, execID, "").Get(ctx, &res))
	require.Equal(t, workflows.Counts{Total: n, Success: n}, res.Counts)
	require.Equal(t, 2*n, fleet.distinctRuns(), "every node ran its step again")
	for id, events := range sample {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		require.NoError(t, err)
		require.Equal(t, events, d.GetWorkflowExecutionInfo().GetHistoryLength(), "events of %s after a run that changed nothing", id)
	}
	t.Logf("%d targets again, compliance unchanged: %s", n, time.Since(start).Round(time.Millisecond))
}

// registerFleet starts n node workflows in parallel as a register leaves
// them (the fast way to a large test fleet; `node import` sends one
// update-with-start per node), and waits until targeting sees them all.
func registerFleet(ctx context.Context, t *testing.T, c client.Client, n int) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			nd := node.Node{ID: fmt.Sprintf("n%06d", i), Address: "192.0.2.1", User: "stead", Transport: transport.KindSSH,
				Platform: "linux", Tags: map[string]string{"fleet": "scale"}}.WithDefaults()
			// Started with what its first task publishes, the node is
			// visible to targeting at once, however far behind the worker is.
			opts := client.StartWorkflowOptions{ID: contract.NodeWorkflowID(nd.ID), TaskQueue: contract.TaskQueue,
				TypedSearchAttributes: temporal.NewSearchAttributes(workflows.NodeSearchAttributes(nd)...),
				Memo:                  map[string]any{contract.NodeMemoKey: nd}}
			// A start the busy server answers too late is sent again; the
			// node it may have started already counts.
			var err error
			for try := 0; try < 5; try++ {
				_, err = c.ExecuteWorkflow(gctx, opts, contract.NodeWorkflow, workflows.NodeState{Node: nd, Revision: 1})
				var started *serviceerror.WorkflowExecutionAlreadyStarted
				if errors.As(err, &started) {
					return nil
				}
				if !errors.Is(err, context.DeadlineExceeded) && status.Code(err) != codes.DeadlineExceeded {
					return err
				}
			}
			return err
		})
	}
	require.NoError(t, g.Wait())
	q, err := targets.NodeQuery([]targets.Target{{Key: "tag:fleet", Values: []string{"scale"}}})
	require.NoError(t, err)
	t.Logf("started %d node workflows", n)
	wait := time.Minute + time.Duration(n)*time.Millisecond
	for deadline := time.Now().Add(wait); ; time.Sleep(200 * time.Millisecond) {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: q})
		if err == nil && resp.GetCount() == int64(n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d nodes visible to targeting after %s (last error: %v)", resp.GetCount(), n, wait, err)
		}
	}
	// Each node workflow's first task waits in the task queue the
	// association's will use; a fleet is ready once the worker took them.
	start := time.Now()
	wait = time.Minute + time.Duration(n)*20*time.Millisecond
	backlog := int64(-1)
	for deadline := time.Now().Add(wait); backlog != 0; time.Sleep(time.Second) {
		resp, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: contract.TaskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW, ReportStats: true,
		})
		require.NoError(t, err)
		backlog = resp.GetStats().GetApproximateBacklogCount()
		if backlog != 0 && time.Now().After(deadline) {
			t.Fatalf("%d workflow tasks still queued after %s", backlog, wait)
		}
	}
	t.Logf("the worker took the nodes' first workflow tasks %s after they were visible", time.Since(start).Round(time.Second))
}

// history reads one run's events.
func history(ctx context.Context, t *testing.T, c client.Client, id, runID string) []*historypb.HistoryEvent {
	var out []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

// fakeFleet is a fake transport.Protocol and runner.Runner for thousands
// of hosts that run every step at once with exit code 0: what a fleet looks
// like to an execution, without the fleet. It counts the runs it starts.
type fakeFleet struct {
	mu      sync.Mutex
	started map[string]int
	total   atomic.Int64
}

func (*fakeFleet) DefaultPort() int { return 22 }

func (f *fakeFleet) Dial(context.Context, transport.Target) (transport.Communicator, error) {
	return fakeFleetConn{}, nil
}

func (f *fakeFleet) runs() int { return int(f.total.Load()) }

func (f *fakeFleet) distinctRuns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

func (*fakeFleet) Shell() string { return documents.ShellSh }

func (f *fakeFleet) Run(_ context.Context, _ transport.Communicator, spec runner.Spec, _ func()) (runner.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started == nil {
		f.started = map[string]int{}
	}
	f.started[spec.RunID]++
	if f.started[spec.RunID] == 1 {
		f.total.Add(1)
	}
	return runner.Result{ExitCode: 0, Resumed: f.started[spec.RunID] > 1}, nil
}

func (*fakeFleet) Fetch(context.Context, transport.Communicator, string, runner.Stream, int64, io.Writer) (int64, int64, error) {
	return 0, 0, nil
}

func (*fakeFleet) Reboot(context.Context, transport.Communicator, runner.Reboot) (string, error) {
	return "", runner.ErrRebootFailed
}

func (*fakeFleet) BootID(context.Context, transport.Communicator, string) (string, error) {
	return "boot-1", nil
}

func (*fakeFleet) ReadFile(context.Context, transport.Communicator, string, int64) ([]byte, error) {
	return nil, os.ErrNotExist
}

func (*fakeFleet) Upload(_ context.Context, _ transport.Communicator, dest string, _ io.Reader, _ os.FileMode) (string, error) {
	return dest, nil
}

// fakeFleetConn is the fake fleet's connection: the runner needs nothing of it.
type fakeFleetConn struct{}

func (fakeFleetConn) Run(context.Context, string, io.Reader, io.Writer, io.Writer) (int, error) {
	return 0, nil
}

func (fakeFleetConn) Upload(_ context.Context, dest string, _ io.Reader, _ os.FileMode) (string, error) {
	return dest, nil
}

func (fakeFleetConn) Download(context.Context, string, io.Writer, int64) (int64, int64, error) {
	return 0, 0, os.ErrNotExist
}

func (fakeFleetConn) Alive() bool  { return true }
func (fakeFleetConn) Close() error { return nil }
