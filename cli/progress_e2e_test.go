package cli_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	steadclient "github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/codec"
)

// While an execution runs, the nodes still running are named, the longest
// running first, from its batches' heartbeats: of two nodes in one batch,
// the one that finished drops out and the one that hangs stays.
func TestRunningNodesNameTheSlowNode(t *testing.T) {
	h := setup(t)
	h.register("slow-1", 90)
	h.register("slow-2", 91)
	out := ok(t, "association", "create", "--name", "slow", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=slow-1,slow-2", "--max-concurrency", "2",
		"--parameters", `{"commands":["case \"$SSH_CONNECTION\" in *' 127.0.0.91 '*) sleep 120;; esac"]}`)
	t.Cleanup(func() { stead(t, "association", "delete", "slow") })
	id := execID(t, out)

	c := dialTest(t)
	defer c.Close()
	cl := steadclient.New(steadclient.Config{Dial: func(context.Context) (steadclient.Connection, error) {
		return steadclient.Connection{Temporal: c, Namespace: "default", DataConverter: codec.NewDataConverter(codecKeys)}, nil
	}})
	var running []contract.RunningNode
	require.Eventually(t, func() bool {
		var err error
		running, err = cl.RunningNodes(context.Background(), "slow", id, 3)
		return err == nil && len(running) == 1 && running[0].NodeID == "slow-2"
	}, 60*time.Second, 250*time.Millisecond, "running: %+v", running)
	require.WithinDuration(t, time.Now(), running[0].StartedAt, time.Minute)
	none, err := cl.RunningNodes(context.Background(), "slow", id, 0)
	require.NoError(t, err)
	require.Empty(t, none)
	_, err = cl.RunningNodes(context.Background(), "slow", "not-an-id", 3)
	require.ErrorContains(t, err, "not an execution id")
}
