// Package metrics exposes a worker's Prometheus metrics: what its batches
// ran (steps and nodes by status, step durations), executions by status,
// dial errors by kind, pooled connections, event deliveries, and the
// Temporal SDK's own metrics (polls, task latencies, requests) through an
// SDK metrics handler that writes into the same registry.
package metrics

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stead-io/stead/contract"
)

// Metrics is one worker's metrics, in a registry of its own.
type Metrics struct {
	reg             *prometheus.Registry
	steps           *prometheus.CounterVec
	stepSeconds     *prometheus.HistogramVec
	nodes           *prometheus.CounterVec
	executions      *prometheus.CounterVec
	dialErrors      *prometheus.CounterVec
	eventsDelivered *prometheus.CounterVec
	eventsFailed    *prometheus.CounterVec
	sdk             *sdkCollector
}

// New makes the metrics, with the Go runtime's and the process's.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stead_steps_total",
			Help: "Steps that ended on a node, by status (each attempt counts)."}, []string{"status"}),
		stepSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "stead_step_duration_seconds",
			Help:    "How long steps ran on their nodes, by status.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}}, []string{"status"}),
		nodes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stead_nodes_total",
			Help: "Nodes whose part of an execution ended on this worker, by status."}, []string{"status"}),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stead_executions_total",
			Help: "Executions that ended, by status, counted by the worker that reported the end."}, []string{"status"}),
		dialErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stead_dial_errors_total",
			Help: "Connections to nodes that failed, by kind (Unreachable, AuthFailed, HostKeyMismatch, ...)."}, []string{"kind"}),
		eventsDelivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stead_events_delivered_total",
			Help: "State-change events a sink took, by sink."}, []string{"sink"}),
		eventsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stead_events_failed_total",
			Help: "State-change events a sink refused after every attempt, by sink."}, []string{"sink"}),
		sdk: newSDKCollector(),
	}
	m.reg.MustRegister(m.steps, m.stepSeconds, m.nodes, m.executions, m.dialErrors, m.eventsDelivered, m.eventsFailed, m.sdk,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// NodeEnded counts a node's outcome in an execution and its steps' (every
// attempt of each, with its duration).
func (m *Metrics) NodeEnded(sum contract.TargetSummary) {
	m.nodes.WithLabelValues(sum.Status).Inc()
	for _, s := range sum.Steps {
		for _, a := range append(s.Earlier, s) {
			if a.Attempt == 0 {
				continue // never ran on the node
			}
			m.steps.WithLabelValues(a.Status).Inc()
			if !a.StartedAt.IsZero() && a.EndedAt.After(a.StartedAt) {
				m.stepSeconds.WithLabelValues(a.Status).Observe(a.EndedAt.Sub(a.StartedAt).Seconds())
			}
		}
	}
}

// ExecutionEnded counts an execution's end.
func (m *Metrics) ExecutionEnded(status string) { m.executions.WithLabelValues(status).Inc() }

// DialFailed counts a connection to a node that failed.
func (m *Metrics) DialFailed(kind string) { m.dialErrors.WithLabelValues(kind).Inc() }

// EventDelivered and EventFailed count event deliveries, for
// events.Observer.
func (m *Metrics) EventDelivered(sink string) { m.eventsDelivered.WithLabelValues(sink).Inc() }

// EventFailed counts an event a sink refused after every attempt.
func (m *Metrics) EventFailed(sink string) { m.eventsFailed.WithLabelValues(sink).Inc() }

// PooledConnections reports the connections idle in a pool as a gauge.
func (m *Metrics) PooledConnections(idle func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stead_pooled_connections",
		Help: "Connections to nodes idle in the worker's pool, ready for the next step."}, func() float64 { return float64(idle()) }))
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil})
}

// Serve serves /metrics on addr until stop is called.
func (m *Metrics) Serve(addr string, logger *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	logger.Info("metrics listening", "address", "http://"+l.Addr().String()+"/metrics")
	return func() { _ = srv.Close() }, nil
}
