package cli

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/workflows"
)

// The live bar names the nodes running longest, with how long, and keeps
// them current while no count changes (when a stuck node shows); once the
// execution ends it names none.
func TestBarNamesTheSlowestNodes(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "bar")
	require.NoError(t, err)
	defer f.Close()
	began := time.Now()
	asked := make(chan int, 100)
	v := newBarProgress(context.Background(), f, func(_ context.Context, n int) ([]contract.RunningNode, error) {
		asked <- n
		return []contract.RunningNode{
			{NodeID: "web-7", StartedAt: began.Add(-95 * time.Second)},
			{NodeID: "web-3", StartedAt: began.Add(-10 * time.Second)},
		}, nil
	})
	running := client.Progress{ExecutionResult: workflows.ExecutionResult{Status: contract.StatusInProgress,
		Counts: workflows.Counts{Total: 4, Success: 1, Failed: 1, InProgress: 2}}}
	v.show(running)
	shown := func() string {
		b, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		return string(b)
	}
	slowest := regexp.MustCompile(`InProgress 1 ok, 1 failed, 2 running; slowest: web-7 1m3\ds, web-3 1\ds`)
	require.Eventually(t, func() bool { return slowest.MatchString(shown()) }, 3*runningEvery, 50*time.Millisecond, "%q", shown())
	require.Equal(t, slowestShown, <-asked)

	done := running
	done.Done, done.Status = true, contract.StatusFailed
	done.Counts = workflows.Counts{Total: 4, Success: 2, Failed: 2}
	v.show(done)
	v.finish()
	require.Nil(t, v.slow, "an execution that ended has no slowest nodes")
}

func TestBarText(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := client.Progress{ExecutionResult: workflows.ExecutionResult{Status: contract.StatusInProgress,
		Counts: workflows.Counts{Total: 10, Success: 5, TimedOut: 1, InProgress: 4}}}
	require.Equal(t, "InProgress 5 ok, 1 failed, 4 running", barText(p, nil, now))
	require.Equal(t, "InProgress 5 ok, 1 failed, 4 running; slowest: db-1 2h0m0s", barText(p, []contract.RunningNode{{NodeID: "db-1", StartedAt: now.Add(-2 * time.Hour)}}, now))
}
