package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hot path's counters. They are always kept (an atomic add each); a server with
// a metrics listener registers them (Collectors).
type metrics struct {
	reports      *prometheus.CounterVec // by result: unchanged, changed
	unchanged    prometheus.Counter
	changed      prometheus.Counter
	batches      prometheus.Histogram // reports per batch transaction
	alertsRaised prometheus.Counter
	flushSeconds prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpwarden_reports_total",
			Help: "Agent reports accepted, by result: unchanged (nothing written) or changed (written in a batch).",
		}, []string{"result"}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mcpwarden_report_batch_size",
			Help:    "Reports written together in one batch transaction (its count is the number of batches).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}),
		alertsRaised: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mcpwarden_alerts_raised_total",
			Help: "Alerts raised by agent reports.",
		}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mcpwarden_heartbeat_flush_duration_seconds",
			Help:    "Time to write the buffered last-seen times, per flush that had any.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10),
		}),
	}
	m.unchanged = m.reports.WithLabelValues("unchanged")
	m.changed = m.reports.WithLabelValues("changed")
	return m
}

// Collectors are the hot path's metrics, to register with a Prometheus registry: reports by
// result, batch sizes, alerts raised, key-cache hits and misses, and the last-seen buffer's size
// and flush time.
func (in *Ingester) Collectors() []prometheus.Collector {
	m := in.metrics
	return []prometheus.Collector{
		m.reports, m.batches, m.alertsRaised, m.flushSeconds,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "mcpwarden_agent_key_cache_lookups_total",
			Help:        "Agent keys looked up, by result: hit (answered from the cache) or miss (read from the database).",
			ConstLabels: prometheus.Labels{"result": "hit"},
		}, func() float64 { return float64(in.keys.hits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "mcpwarden_agent_key_cache_lookups_total",
			Help:        "Agent keys looked up, by result: hit (answered from the cache) or miss (read from the database).",
			ConstLabels: prometheus.Labels{"result": "miss"},
		}, func() float64 { return float64(in.keys.lookups.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mcpwarden_heartbeat_buffer_agents",
			Help: "Agents whose last-seen time waits in memory for the next flush.",
		}, func() float64 { return float64(in.seen.size()) }),
	}
}

func (m *metrics) flushed(took time.Duration) { m.flushSeconds.Observe(took.Seconds()) }
