package activities

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/contract"
)

// A batch's heartbeat names the nodes running longest, first, at most
// contract.MaxRunningReported, and forgets the ones that ended.
func TestHeartbeatNamesLongestRunning(t *testing.T) {
	_, r := withRunningNodes(context.Background())
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 9; i >= 0; i-- {
		r.start(fmt.Sprintf("n-%d", i), t0.Add(time.Duration(i)*time.Second))
	}
	r.end("n-0")
	hb := r.heartbeat()
	require.Len(t, hb.Running, contract.MaxRunningReported)
	for i, n := range hb.Running {
		require.Equal(t, fmt.Sprintf("n-%d", i+1), n.NodeID)
		require.Equal(t, t0.Add(time.Duration(i+1)*time.Second), n.StartedAt)
	}
}
