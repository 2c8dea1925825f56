package histories_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/devserver"
	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/worker"
	"github.com/stead-io/stead/workflows"
	"github.com/stead-io/stead/workflows/histories"
)

var (
	record        = flag.Bool("record", false, "record replay fixtures from today's workflows (make histories)")
	recordOnly    = flag.String("record-only", "", "record only these workflow types, comma-separated, e.g. ExecutionWorkflow,NodeWorkflow")
	recordVersion = flag.String("record-version", histories.Version, "the version folder to add the fixtures to")
)

// continueAsNewAfter is the history length at which the server of the
// continue-as-new scenarios suggests continuing as new: long enough for a
// run to do its work, short enough to roll over within a few changes.
const continueAsNewAfter = 20

// fixture is one recorded run, saved as histories.FileName(Type, Case).
type fixture struct {
	Type string
	Case string
}

// source is the run a fixture records: the run-th run (0 is the first) of
// the continue-as-new chain of a workflow id.
type source struct {
	workflowID string
	run        int
	// open: the run never ends (a sealed audit segment); its history so
	// far is the fixture.
	open bool
}

// scenario drives real workflows through one story and says which runs it
// leaves are fixtures.
type scenario struct {
	name string
	// continueAsNew runs the story on a server that suggests continue-as-new
	// after continueAsNewAfter events.
	continueAsNew bool
	fixtures      []fixture
	run           func(t *testing.T, s *stead) map[fixture]source
}

var scenarios = []scenario{
	{
		name: "fleet",
		fixtures: []fixture{
			{contract.NodeWorkflow, "lifecycle"},
			{contract.DocumentWorkflow, "lifecycle"},
			{contract.AssociationWorkflow, "lifecycle"},
			{contract.ExecutionWorkflow, "ssh-and-local"},
			{contract.ExecutionWorkflow, "new-node"},
		},
		run: fleet,
	},
	{
		name: "step-flow",
		fixtures: []fixture{
			{contract.ExecutionWorkflow, "max-errors"},
		},
		run: stepFlow,
	},
	{
		name:     "schedule",
		fixtures: []fixture{{contract.AssociationWorkflow, "schedule"}},
		run:      scheduled,
	},
	{
		name:     "stop-resume-cancel",
		fixtures: []fixture{{contract.AssociationWorkflow, "stop-resume-cancel"}},
		run:      stopResumeCancel,
	},
	{
		name:          "node-continues-as-new",
		continueAsNew: true,
		fixtures: []fixture{
			{contract.NodeWorkflow, "continued-as-new"},
			{contract.NodeWorkflow, "carried-state"},
		},
		run: nodeContinuesAsNew,
	},
	{
		name:          "document-continues-as-new",
		continueAsNew: true,
		fixtures: []fixture{
			{contract.DocumentWorkflow, "continued-as-new"},
			{contract.DocumentWorkflow, "carried-state"},
		},
		run: documentContinuesAsNew,
	},
	{
		name:          "audit-log",
		continueAsNew: true,
		fixtures: []fixture{
			{contract.AuditWorkflow, "continued-as-new"},
			{contract.AuditSegmentWorkflow, "sealed"},
		},
		run: auditLog,
	},
	{
		name:          "association-continues-as-new",
		continueAsNew: true,
		fixtures: []fixture{
			{contract.AssociationWorkflow, "continued-as-new"},
			{contract.AssociationWorkflow, "carried-state"},
			{contract.ExecutionWorkflow, "continued-as-new"},
			{contract.ExecutionWorkflow, "carried-state"},
		},
		run: associationContinuesAsNew,
	},
}

// TestRecordHistories runs every scenario that records a selected workflow
// type on the embedded Temporal server, with a Stead worker reaching real
// sshd hosts and the local transport, and adds each fixture to the version
// folder. It never overwrites a file: it fails, naming it, before anything
// runs.
func TestRecordHistories(t *testing.T) {
	if !*record {
		t.Skip("records fixtures only when asked: make histories, or -record")
	}
	require.NoError(t, histories.CheckVersion(*recordVersion))
	dir, err := filepath.Abs(filepath.Join("..", histories.Dir, *recordVersion))
	require.NoError(t, err)
	types, err := selectedTypes(*recordOnly)
	require.NoError(t, err)

	declared := map[fixture]string{}
	for _, sc := range scenarios {
		for _, f := range sc.fixtures {
			if other, ok := declared[f]; ok {
				t.Fatalf("scenarios %s and %s both record %s", other, sc.name, histories.FileName(f.Type, f.Case))
			}
			declared[f] = sc.name
			if !types[f.Type] {
				continue
			}
			path := filepath.Join(dir, histories.FileName(f.Type, f.Case))
			if _, err := os.Stat(path); err == nil {
				t.Fatalf("%s exists: fixtures are only ever added; record a new case under a new name, or a new version into a new folder (-record-version)", path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}

	// Fixtures are written once every scenario succeeded: a failed recording
	// leaves no partial set behind.
	var recorded sync.Map // path -> []byte
	sshd := testsshd.Start(t)
	for _, continueAsNew := range []bool{false, true} {
		var group []scenario
		for _, sc := range scenarios {
			if sc.continueAsNew == continueAsNew && slices.ContainsFunc(sc.fixtures, func(f fixture) bool { return types[f.Type] }) {
				group = append(group, sc)
			}
		}
		if len(group) == 0 {
			continue
		}
		t.Run(fmt.Sprintf("continue-as-new=%t", continueAsNew), func(t *testing.T) {
			s := startStead(t, sshd, continueAsNew)
			for _, sc := range group {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					sources := sc.run(t, s)
					for _, f := range sc.fixtures {
						src, ok := sources[f]
						require.True(t, ok, "scenario %s recorded no %s", sc.name, histories.FileName(f.Type, f.Case))
						if types[f.Type] {
							recorded.Store(filepath.Join(dir, histories.FileName(f.Type, f.Case)), s.history(t, f.Type, src))
						}
					}
				})
			}
		})
	}
	if t.Failed() {
		return
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for path, b := range recorded.Range {
		f, err := os.OpenFile(path.(string), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		require.NoError(t, err, "fixtures are only ever added")
		_, err = f.Write(b.([]byte))
		require.NoError(t, errors.Join(err, f.Close()))
		t.Logf("recorded %s", path)
	}
}

// selectedTypes parses -record-only: "" selects every workflow type the
// scenarios record.
func selectedTypes(only string) (map[string]bool, error) {
	known := map[string]bool{}
	for _, sc := range scenarios {
		for _, f := range sc.fixtures {
			known[f.Type] = true
		}
	}
	if only == "" {
		return known, nil
	}
	picked := map[string]bool{}
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		if !known[name] {
			return nil, fmt.Errorf("record only %q: no scenario records it; want some of %s", name, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
		picked[name] = true
	}
	return picked, nil
}

// stead is a Temporal server with a Stead worker, as `stead dev` runs them.
type stead struct {
	client client.Client
	sshd   *testsshd.Server
}

func startStead(t *testing.T, sshd *testsshd.Server, continueAsNew bool) *stead {
	cfg := devserver.Config{DataDir: t.TempDir(), UIPort: -1, SearchAttributes: contract.SearchAttributes()}
	if continueAsNew {
		cfg.SuggestContinueAsNewAfter = continueAsNewAfter
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })

	c, err := client.Dial(client.Options{
		HostPort: srv.FrontendAddress(),
		Logger:   sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	pool := transport.NewPool(transport.NewDialer(sshd.Dialer(t)), time.Minute)
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(wctx, worker.Options{
			Client: c,
			Activities: &activities.Activities{
				Client: c, Namespace: "default", Nodes: pool,
				HeartbeatEvery: time.Second, OutputDir: t.TempDir(),
			},
		})
	}()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
		pool.Close()
		c.Close()
	})
	// The audit log's head, started before any change reaches it, seals
	// small segments, so that the scenarios' changes seal some.
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.AuditWorkflowID, TaskQueue: contract.TaskQueue},
		contract.AuditWorkflow, workflows.AuditState{SegmentRecords: 3})
	require.NoError(t, err)
	return &stead{client: c, sshd: sshd}
}

// runs lists the run ids of workflowID's latest continue-as-new chain, the
// first run first.
func (s *stead) runs(t *testing.T, workflowID string) []string {
	ctx := context.Background()
	desc, err := s.client.DescribeWorkflowExecution(ctx, workflowID, "")
	require.NoError(t, err)
	var chain []string
	for runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(); runID != ""; {
		chain = append([]string{runID}, chain...)
		it := s.client.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		first, err := it.Next()
		require.NoError(t, err)
		runID = first.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
	}
	return chain
}

// history is the JSON history of a closed run, which must be of workflowType.
func (s *stead) history(t *testing.T, workflowType string, src source) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	chain := s.runs(t, src.workflowID)
	require.Greater(t, len(chain), src.run, "%s has %d runs, not %d: it did not continue as new", src.workflowID, len(chain), src.run+1)
	runID := chain[src.run]

	if !src.open {
		// The close event, waited for: the story ended, the run may not yet have.
		closing, err := s.client.GetWorkflowHistory(ctx, src.workflowID, runID, true, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT).Next()
		require.NoError(t, err)
		// A last run ends as its workflow's code ended it (an execution whose
		// targets failed fails); never timed out or terminated.
		want := []enumspb.EventType{enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED}
		if src.run < len(chain)-1 {
			want = []enumspb.EventType{enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW}
		}
		require.Contains(t, want, closing.GetEventType(), "%s run %s", src.workflowID, runID)
	}

	var events []*historypb.HistoryEvent
	it := s.client.GetWorkflowHistory(ctx, src.workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events = append(events, ev)
	}
	require.Equal(t, workflowType, events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName(), "%s run %s", src.workflowID, runID)
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&historypb.History{Events: events})
	require.NoError(t, err)
	t.Logf("%s run %s: %d events", src.workflowID, runID, len(events))
	return append(b, '\n')
}

// wrongHostKey is a host key no test host has: a node pinned to it is a
// host that answers with another key.
func wrongHostKey(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// newExecutionID is an execution id, as the CLI picks one for a new
// association's first run.
func newExecutionID() string { return uuid.NewString() }
