package metrics_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/metrics"
)

func exposition(t *testing.T, m *metrics.Metrics) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	require.Equal(t, 200, rec.Code, string(b))
	return string(b)
}

// The SDK reports one name with different tag sets; the exposition gives
// the name the union of its tags, so Prometheus accepts it.
func TestSDKMetricsWithDifferentTags(t *testing.T) {
	m := metrics.New()
	h := m.SDKHandler()
	h.Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"operation": "PollActivityTaskQueue"}).Counter("temporal_request").Inc(3)
	h.WithTags(map[string]string{"task_queue": "stead"}).Gauge("temporal_num_pollers").Update(4)
	h.Timer("temporal_activity_execution_latency").Record(30 * time.Millisecond)
	text := exposition(t, m)
	require.Contains(t, text, `temporal_request{operation=""} 2`)
	require.Contains(t, text, `temporal_request{operation="PollActivityTaskQueue"} 3`)
	require.Contains(t, text, `temporal_num_pollers{task_queue="stead"} 4`)
	require.Contains(t, text, `temporal_activity_execution_latency_bucket{le="0.05"} 1`)
	require.Contains(t, text, `temporal_activity_execution_latency_bucket{le="0.025"} 0`)
}

func TestNodeEndedCountsEveryAttempt(t *testing.T) {
	m := metrics.New()
	start := time.Unix(1700000000, 0)
	m.NodeEnded(contract.TargetSummary{Status: contract.StatusSuccess, Steps: []contract.StepSummary{
		{Status: contract.StatusSuccess, Attempt: 2, StartedAt: start, EndedAt: start.Add(2 * time.Second),
			Earlier: []contract.StepSummary{{Status: contract.StatusFailed, Attempt: 1, StartedAt: start, EndedAt: start.Add(time.Second)}}},
		{Status: contract.StatusSkipped},
	}})
	text := exposition(t, m)
	require.Contains(t, text, `stead_nodes_total{status="Success"} 1`)
	require.Contains(t, text, `stead_steps_total{status="Success"} 1`)
	require.Contains(t, text, `stead_steps_total{status="Failed"} 1`)
	require.NotContains(t, text, `stead_steps_total{status="Skipped"}`, "a step that never ran is not a step run")
	require.Contains(t, text, `stead_step_duration_seconds_sum{status="Success"} 2`)
}

// The dashboard in the repository plots only metrics a worker exposes.
func TestDashboardPlotsExposedMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/stead-dashboard.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	require.NotEmpty(t, dash.Panels)
	m := metrics.New()
	m.PooledConnections(func() int { return 0 })
	m.NodeEnded(contract.TargetSummary{Status: "x", Steps: []contract.StepSummary{{Status: "x", Attempt: 1, StartedAt: time.Unix(0, 0), EndedAt: time.Unix(1, 0)}}})
	m.ExecutionEnded("x")
	m.DialFailed("x")
	m.EventDelivered("x")
	m.EventFailed("x")
	text := exposition(t, m)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range regexp.MustCompile(`stead_[a-z_]+`).FindAllString(tg.Expr, -1) {
				require.Contains(t, text, "\n"+name, "panel expression %s", tg.Expr)
			}
		}
	}
}
