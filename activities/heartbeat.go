package activities

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/stead-io/stead/contract"
)

// runningNodes is which nodes a batch is running and since when: the
// detail of the batch's heartbeats (contract.BatchHeartbeat).
type runningNodes struct {
	mu    sync.Mutex
	since map[string]time.Time
}

type runningNodesKey struct{}

// withRunningNodes gives a batch's context the record its heartbeats carry.
func withRunningNodes(ctx context.Context) (context.Context, *runningNodes) {
	r := &runningNodes{since: map[string]time.Time{}}
	return context.WithValue(ctx, runningNodesKey{}, r), r
}

func (r *runningNodes) start(id string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.since[id] = at
}

func (r *runningNodes) end(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.since, id)
}

// heartbeat is what a heartbeat says: the nodes running longest, first.
func (r *runningNodes) heartbeat() contract.BatchHeartbeat {
	r.mu.Lock()
	running := make([]contract.RunningNode, 0, len(r.since))
	for id, at := range r.since {
		running = append(running, contract.RunningNode{NodeID: id, StartedAt: at})
	}
	r.mu.Unlock()
	slices.SortFunc(running, func(x, y contract.RunningNode) int {
		if c := x.StartedAt.Compare(y.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(x.NodeID, y.NodeID)
	})
	return contract.BatchHeartbeat{Running: running[:min(len(running), contract.MaxRunningReported)]}
}

// recordHeartbeat heartbeats the activity of ctx. Within a batch every
// heartbeat carries the nodes it runs: Temporal keeps only the last
// heartbeat's detail, so one without it would wipe what the last said.
func recordHeartbeat(ctx context.Context) {
	if r, ok := ctx.Value(runningNodesKey{}).(*runningNodes); ok {
		activity.RecordHeartbeat(ctx, r.heartbeat())
		return
	}
	activity.RecordHeartbeat(ctx)
}
