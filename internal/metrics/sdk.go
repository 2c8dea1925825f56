package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// sdkBuckets are the buckets of the SDK's timers, in seconds.
var sdkBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// series is one labelled metric the SDK reported.
type series struct {
	kind   prometheus.ValueType // CounterValue or GaugeValue; UntypedValue for a timer (a histogram)
	labels map[string]string
	value  float64
	// A timer's histogram.
	count   uint64
	sum     float64
	buckets []uint64
}

// sdkCollector holds what the Temporal SDK reports through its metrics
// handler. The SDK gives one metric name different tag sets (a poll
// counter with and without a task queue), which a fixed-label vector
// refuses, so each name is exposed with the union of the tags seen for
// it, an absent tag empty.
type sdkCollector struct {
	mu     sync.Mutex
	series map[string]map[string]*series // name -> label key -> series
}

func newSDKCollector() *sdkCollector {
	return &sdkCollector{series: map[string]map[string]*series{}}
}

// SDKHandler is the Temporal SDK metrics handler that writes into m: pass
// it as the client's MetricsHandler.
func (m *Metrics) SDKHandler() client.MetricsHandler { return sdkHandler{c: m.sdk} }

// The SDK's counter, gauge and timer as funcs.
type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }

type sdkHandler struct {
	c    *sdkCollector
	tags map[string]string
}

func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	return sdkHandler{c: h.c, tags: merged}
}

func (h sdkHandler) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) {
		h.c.update(name, prometheus.CounterValue, h.tags, func(s *series) { s.value += float64(d) })
	})
}

func (h sdkHandler) Gauge(name string) client.MetricsGauge {
	return gaugeFunc(func(v float64) {
		h.c.update(name, prometheus.GaugeValue, h.tags, func(s *series) { s.value = v })
	})
}

func (h sdkHandler) Timer(name string) client.MetricsTimer {
	return timerFunc(func(d time.Duration) {
		h.c.update(name, prometheus.UntypedValue, h.tags, func(s *series) {
			v := d.Seconds()
			s.count++
			s.sum += v
			for i, b := range sdkBuckets {
				if v <= b {
					s.buckets[i]++
				}
			}
		})
	})
}

// update applies f to the series of name with tags, creating it.
func (c *sdkCollector) update(name string, kind prometheus.ValueType, tags map[string]string, f func(*series)) {
	name = promName(name)
	keys := slices.Sorted(maps.Keys(tags))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\x00" + tags[k] + "\x00")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	byLabels := c.series[name]
	if byLabels == nil {
		byLabels = map[string]*series{}
		c.series[name] = byLabels
	}
	s := byLabels[b.String()]
	if s == nil {
		s = &series{kind: kind, labels: maps.Clone(tags), buckets: make([]uint64, len(sdkBuckets))}
		byLabels[b.String()] = s
	}
	f(s)
}

// promName makes an SDK metric name a valid Prometheus one.
func promName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' {
			return r
		}
		return '_'
	}, name)
}

// Describe sends nothing: the SDK's metrics are known only once reported.
func (c *sdkCollector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series, each name with the union of its labels.
func (c *sdkCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, byLabels := range c.series {
		union := map[string]bool{}
		for _, s := range byLabels {
			for k := range s.labels {
				union[k] = true
			}
		}
		keys := slices.Sorted(maps.Keys(union))
		for _, s := range byLabels {
			values := make([]string, len(keys))
			for i, k := range keys {
				values[i] = s.labels[k]
			}
			desc := prometheus.NewDesc(name, "Temporal SDK metric "+name+".", keys, nil)
			var m prometheus.Metric
			var err error
			if s.kind == prometheus.UntypedValue {
				cum := map[float64]uint64{}
				for i, b := range sdkBuckets {
					cum[b] = s.buckets[i]
				}
				m, err = prometheus.NewConstHistogram(desc, s.count, s.sum, cum, values...)
			} else {
				m, err = prometheus.NewConstMetric(desc, s.kind, s.value, values...)
			}
			if err == nil {
				ch <- m
			}
		}
	}
}
