// Package metrics holds the engine's Prometheus metrics. One Metrics value is
// shared by the config store, the executor and the ext_proc server.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics implements core.ReloadObserver and core.ExecutionObserver.
type Metrics struct {
	requests        *prometheus.CounterVec
	policyDecisions *prometheus.CounterVec
	policyLatency   *prometheus.HistogramVec
	activeStreams   prometheus.Gauge
	configVersion   prometheus.Gauge
	reloads         *prometheus.CounterVec
	droppedHeaders  *prometheus.CounterVec
	xdsNacks        prometheus.Counter
	xdsUpdates      prometheus.Counter
	xdsReconnects   prometheus.Counter
	xdsPublished    *prometheus.CounterVec
	xdsNacksSeen    prometheus.Counter
	xdsVersionInfo  *prometheus.GaugeVec

	// The series recorded per policy run and per request, resolved once: resolving
	// labels every time (validation, hashing and a read lock that every stream
	// shares) cost more than the counting (docs/load-test.md). Series are never
	// deleted, so neither are the entries.
	policySeries  seriesCache[policyKey, policySeries]
	requestSeries seriesCache[[2]string, prometheus.Counter]
}

type policyKey struct{ route, policy, phase, decision string }

type policySeries struct {
	decisions prometheus.Counter
	latency   prometheus.Observer
}

// seriesCache maps label values (K) to resolved series (S).
type seriesCache[K comparable, S any] struct{ m sync.Map }

// get returns the series for k, resolving it the first time.
func (c *seriesCache[K, S]) get(k K, resolve func() S) S {
	v, ok := c.m.Load(k)
	if !ok {
		v, _ = c.m.LoadOrStore(k, resolve())
	}
	return v.(S)
}

// New creates the metrics and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	counter := func(name, help string) prometheus.Counter {
		return f.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return f.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	return &Metrics{
		requests: counterVec("policy_engine_requests_total",
			"Requests by route and request-phase decision (allow, deny, error, no_route, not_ready).",
			"route", "decision"),
		policyDecisions: counterVec("policy_engine_policy_executions_total",
			"Policy runs by route, policy (name:version), phase and decision (continue, immediate, skipped, error).",
			"route", "policy", "phase", "decision"),
		policyLatency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "policy_engine_policy_duration_seconds",
			Help:    "Time one policy run took, condition evaluation included.",
			Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}, []string{"policy", "phase"}),
		activeStreams: gauge("policy_engine_active_streams", "ext_proc streams open now."),
		configVersion: gauge("policy_engine_config_version",
			"Version of the configuration in force (increments with each applied configuration)."),
		reloads: counterVec("policy_engine_config_reloads_total", "Configuration attempts by result (ok, failed).", "result"),
		droppedHeaders: counterVec("policy_engine_dropped_header_mutations_total",
			"Header changes not sent because Envoy's mutation rules would ignore them.", "route"),
		xdsNacks:      counter("policy_engine_xds_nacks_total", "Configurations received over xDS and refused."),
		xdsUpdates:    counter("policy_engine_xds_updates_total", "Configurations received over xDS, applied and ACKed."),
		xdsReconnects: counter("policy_engine_xds_reconnects_total", "Times the xDS subscription stream broke and was retried."),
		xdsPublished: counterVec("policy_engine_xds_publish_total",
			"Config file changes seen by the xDS server by result (ok: published, invalid: not publishable, subscribers keep the previous version).",
			"result"),
		xdsNacksSeen: counter("policy_engine_xds_nacks_received_total", "NACKs the xDS server received from subscribers."),
		// The xDS version is a content hash, not a number, so it travels as a label
		// on an info-style gauge with exactly one series per role.
		xdsVersionInfo: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "policy_engine_xds_version_info",
			Help: "Always 1; the version label is the xDS version this engine last applied (role=subscriber) or published (role=server).",
		}, []string{"role", "version"}),
	}
}

// ConfigApplied records a configuration swap.
func (m *Metrics) ConfigApplied(version uint64) {
	m.reloads.WithLabelValues("ok").Inc()
	m.configVersion.Set(float64(version))
}

// ConfigRejected records a refused configuration.
func (m *Metrics) ConfigRejected(string) { m.reloads.WithLabelValues("failed").Inc() }

// PolicyExecuted records one policy run.
func (m *Metrics) PolicyExecuted(route, policy, phase, decision string, elapsed time.Duration) {
	s := m.policySeries.get(policyKey{route, policy, phase, decision}, func() policySeries {
		return policySeries{
			decisions: m.policyDecisions.WithLabelValues(route, policy, phase, decision),
			latency:   m.policyLatency.WithLabelValues(policy, phase),
		}
	})
	s.decisions.Inc()
	s.latency.Observe(elapsed.Seconds())
}

// RequestDecided records the request-phase outcome of one request.
func (m *Metrics) RequestDecided(route, decision string) {
	m.requestSeries.get([2]string{route, decision}, func() prometheus.Counter {
		return m.requests.WithLabelValues(route, decision)
	}).Inc()
}

// StreamStarted and StreamEnded track open ext_proc streams.
func (m *Metrics) StreamStarted() { m.activeStreams.Inc() }

// StreamEnded is the counterpart of StreamStarted.
func (m *Metrics) StreamEnded() { m.activeStreams.Dec() }

// HeadersDropped records header changes withheld from Envoy.
func (m *Metrics) HeadersDropped(route string, n int) {
	m.droppedHeaders.WithLabelValues(route).Add(float64(n))
}

// XDSApplied records an xDS update that was applied and ACKed.
func (m *Metrics) XDSApplied(version string) {
	m.xdsUpdates.Inc()
	m.setVersion("subscriber", version)
}

// XDSRejected records an xDS update that was NACKed.
func (m *Metrics) XDSRejected() { m.xdsNacks.Inc() }

// XDSReconnected records a broken subscription stream about to be retried.
func (m *Metrics) XDSReconnected() { m.xdsReconnects.Inc() }

// XDSPublished records a config file version the xDS server now serves.
func (m *Metrics) XDSPublished(version string) {
	m.xdsPublished.WithLabelValues("ok").Inc()
	m.setVersion("server", version)
}

// XDSUnpublishable records a config file the xDS server could not serve.
func (m *Metrics) XDSUnpublishable() { m.xdsPublished.WithLabelValues("invalid").Inc() }

// XDSNackReceived records a NACK from a subscriber, at the server.
func (m *Metrics) XDSNackReceived() { m.xdsNacksSeen.Inc() }

func (m *Metrics) setVersion(role, version string) {
	m.xdsVersionInfo.DeletePartialMatch(prometheus.Labels{"role": role})
	m.xdsVersionInfo.WithLabelValues(role, version).Set(1)
}
