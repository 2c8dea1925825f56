package devserver_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/devserver"
)

const taskQueue = "devserver-test"

// tagNode is the trivial workflow the test runs: it tags itself the way a
// node workflow does, so visibility queries can find it.
func tagNode(ctx workflow.Context, node string) (string, error) {
	err := workflow.UpsertTypedSearchAttributes(ctx,
		contract.AttrNodeID.ValueSet(node),
		contract.AttrTags.ValueSet([]string{"role=web", "env=test"}),
	)
	if err != nil {
		return "", err
	}
	return "tagged " + node, nil
}

func start(t *testing.T, cfg devserver.Config) *devserver.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	srv, err := devserver.Start(ctx, cfg)
	require.NoError(t, err)
	t.Logf("started in %s on %s (ui %q), process RSS %s", time.Since(began).Round(time.Millisecond), srv.FrontendAddress(), srv.UIURL(), rss())
	return srv
}

func dial(t *testing.T, srv *devserver.Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort: srv.FrontendAddress(),
		Logger:   sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	return c
}

func rss() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func requireSearchAttributes(ctx context.Context, t *testing.T, c client.Client, want map[string]enumspb.IndexedValueType) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	for name, typ := range want {
		assert.Equal(t, typ, resp.GetCustomAttributes()[name], "search attribute %s", name)
	}
}

// requireListed waits for visibility, which is updated asynchronously, to
// return exactly the workflow ids in want for query.
func requireListed(ctx context.Context, t *testing.T, c client.Client, query string, want ...string) {
	t.Helper()
	var got []string
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		require.NoError(t, err, query)
		got = got[:0]
		for _, e := range resp.GetExecutions() {
			got = append(got, e.GetExecution().GetWorkflowId())
		}
		return assert.ObjectsAreEqual(want, got)
	}, 10*time.Second, 50*time.Millisecond, "query %q listed %v, want %v", query, got, want)
}

func TestStartPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	srv := start(t, devserver.Config{DataDir: dir, SearchAttributes: contract.SearchAttributes()})
	t.Cleanup(func() { _ = srv.Stop() })
	c := dial(t, srv)

	requireSearchAttributes(ctx, t, c, contract.SearchAttributes())

	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(tagNode)
	require.NoError(t, w.Start())
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "node/web-1", TaskQueue: taskQueue}, tagNode, "web-1")
	require.NoError(t, err)
	var result string
	require.NoError(t, run.Get(ctx, &result))
	assert.Equal(t, "tagged web-1", result)
	requireListed(ctx, t, c, "SteadNodeId = 'web-1'", "node/web-1")
	requireListed(ctx, t, c, "SteadTags = 'role=web'", "node/web-1")

	resp, err := http.Get(srv.UIURL())
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	_, err = devserver.Start(ctx, devserver.Config{DataDir: dir})
	require.ErrorContains(t, err, "is in use by another server")

	w.Stop()
	c.Close()
	_, port, err := net.SplitHostPort(srv.FrontendAddress())
	require.NoError(t, err)
	began := time.Now()
	require.NoError(t, srv.Stop())
	t.Logf("stopped in %s", time.Since(began).Round(time.Millisecond))

	// Same directory and frontend port, one attribute more, no UI.
	more := contract.SearchAttributes()
	more["SteadTestExtra"] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	srv = start(t, devserver.Config{DataDir: dir, Port: p, UIPort: -1, SearchAttributes: more})
	c = dial(t, srv)
	defer c.Close()
	assert.Empty(t, srv.UIURL())

	requireSearchAttributes(ctx, t, c, more)
	iter := c.GetWorkflowHistory(ctx, "node/web-1", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	require.True(t, iter.HasNext())
	closed, err := iter.Next()
	require.NoError(t, err)
	assert.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, closed.GetEventType())
	requireListed(ctx, t, c, "SteadNodeId = 'web-1'", "node/web-1")

	// The attribute added on this start is usable at once.
	extra := temporal.NewSearchAttributeKeyKeyword("SteadTestExtra")
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    "node/web-2",
		TaskQueue:             taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(extra.ValueSet("yes")),
	}, tagNode, "web-2")
	require.NoError(t, err)
	requireListed(ctx, t, c, "SteadTestExtra = 'yes'", "node/web-2")
	require.NoError(t, srv.Stop())

	// A registered name asked for with another type is refused.
	clash := map[string]enumspb.IndexedValueType{contract.AttrNodeID.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST}
	_, err = devserver.Start(ctx, devserver.Config{DataDir: dir, UIPort: -1, SearchAttributes: clash})
	require.ErrorContains(t, err, "register search attribute SteadNodeId as KeywordList: it is already registered as Keyword")
	assert.NotContains(t, err.Error(), "\n")
}

// untilSuggested sleeps in short steps until the server suggests
// continue-as-new, and returns the history length at which it did.
func untilSuggested(ctx workflow.Context) (int, error) {
	for !workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return 0, err
		}
	}
	return workflow.GetInfo(ctx).GetCurrentHistoryLength(), nil
}

func TestSuggestContinueAsNewAfter(t *testing.T) {
	srv := start(t, devserver.Config{DataDir: t.TempDir(), UIPort: -1, SuggestContinueAsNewAfter: 20})
	t.Cleanup(func() { _ = srv.Stop() })
	c := dial(t, srv)
	defer c.Close()
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(untilSuggested)
	require.NoError(t, w.Start())
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, untilSuggested)
	require.NoError(t, err)
	var length int
	require.NoError(t, run.Get(ctx, &length), "suggested long before Temporal's default of 4,096 events")
	assert.GreaterOrEqual(t, length, 20)
	assert.Less(t, length, 40)
}

func TestStartReportsUnusableResources(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))

	for _, tc := range []struct {
		name string
		cfg  devserver.Config
		want string
	}{
		{"frontend port taken", devserver.Config{DataDir: t.TempDir(), Port: takenPort}, "frontend address 127.0.0.1:" + strconv.Itoa(takenPort) + " is not available"},
		{"ui port taken", devserver.Config{DataDir: t.TempDir(), UIPort: takenPort}, "web ui address 127.0.0.1:" + strconv.Itoa(takenPort) + " is not available"},
		{"data dir not writable", devserver.Config{DataDir: filepath.Join(file, "data")}, "data dir " + filepath.Join(file, "data") + " is not writable"},
		{"no data dir", devserver.Config{}, "data dir is required"},
		{"bad ip", devserver.Config{DataDir: t.TempDir(), IP: "localhost"}, `ip "localhost" is not an IP address`},
		{"negative continue-as-new limit", devserver.Config{DataDir: t.TempDir(), SuggestContinueAsNewAfter: -1}, "suggest continue-as-new after -1 events: want 0"},
		{"too many keywords", devserver.Config{DataDir: t.TempDir(), UIPort: -1, SearchAttributes: keywords(11)}, "cannot have more than 10 search attributes of type Keyword"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := devserver.Start(context.Background(), tc.cfg)
			if err == nil {
				_ = srv.Stop()
			}
			require.ErrorContains(t, err, tc.want)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func keywords(n int) map[string]enumspb.IndexedValueType {
	out := make(map[string]enumspb.IndexedValueType, n)
	for i := range n {
		out["Kw"+strconv.Itoa(i)] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	return out
}
