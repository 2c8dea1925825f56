package cli

import (
	"log/slog"

	ucli "github.com/urfave/cli/v2"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/internal/metrics"
	"github.com/stead-io/stead/internal/transport"
)

// workerMetrics is a worker's metrics; nil when --metrics-address is not
// given, and then every method gives what counts nothing.
type workerMetrics struct{ *metrics.Metrics }

// serveMetrics serves the worker's metrics on --metrics-address, with the
// pool's idle connections as a gauge.
func serveMetrics(c *ucli.Context, logger *slog.Logger, pool *transport.Pool) (*workerMetrics, func(), error) {
	addr := c.String("metrics-address")
	if addr == "" {
		return nil, func() {}, nil
	}
	m := metrics.New()
	m.PooledConnections(pool.Idle)
	stop, err := m.Serve(addr, logger)
	if err != nil {
		return nil, nil, err
	}
	return &workerMetrics{m}, stop, nil
}

// sdkHandler is the Temporal client's metrics handler: none without metrics.
func (m *workerMetrics) sdkHandler() sdkclient.MetricsHandler {
	if m == nil {
		return nil
	}
	return m.SDKHandler()
}

// recorder is what the activities count into: none without metrics.
func (m *workerMetrics) recorder() activities.MetricsRecorder {
	if m == nil {
		return nil
	}
	return m.Metrics
}
