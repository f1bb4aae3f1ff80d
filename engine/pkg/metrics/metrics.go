// Package metrics holds the engine's Prometheus metrics. One Metrics value is
// shared by the config store, the executor and the ext_proc server.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	// XDSNacks counts configurations an xDS subscriber refused (NACKed).
	XDSNacks prometheus.Counter
}

// New creates the metrics and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "policy_engine_requests_total",
			Help: "Requests by route and request-phase decision (allow, deny, error, no_route, not_ready).",
		}, []string{"route", "decision"}),
		policyDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "policy_engine_policy_executions_total",
			Help: "Policy runs by route, policy (name:version), phase and decision (continue, immediate, skipped, error).",
		}, []string{"route", "policy", "phase", "decision"}),
		policyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "policy_engine_policy_duration_seconds",
			Help:    "Time one policy run took, condition evaluation included.",
			Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}, []string{"policy", "phase"}),
		activeStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "policy_engine_active_streams",
			Help: "ext_proc streams open now.",
		}),
		configVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "policy_engine_config_version",
			Help: "Version of the configuration in force (increments with each applied configuration).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "policy_engine_config_reloads_total",
			Help: "Configuration attempts by result (ok, failed).",
		}, []string{"result"}),
		droppedHeaders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "policy_engine_dropped_header_mutations_total",
			Help: "Header changes not sent because Envoy's mutation rules would ignore them.",
		}, []string{"route"}),
		XDSNacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "policy_engine_xds_nacks_total",
			Help: "Configurations received over xDS and refused.",
		}),
	}
	reg.MustRegister(m.requests, m.policyDecisions, m.policyLatency, m.activeStreams,
		m.configVersion, m.reloads, m.droppedHeaders, m.XDSNacks)
	return m
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
	m.policyDecisions.WithLabelValues(route, policy, phase, decision).Inc()
	m.policyLatency.WithLabelValues(policy, phase).Observe(elapsed.Seconds())
}

// RequestDecided records the request-phase outcome of one request.
func (m *Metrics) RequestDecided(route, decision string) {
	m.requests.WithLabelValues(route, decision).Inc()
}

// StreamStarted and StreamEnded track open ext_proc streams.
func (m *Metrics) StreamStarted() { m.activeStreams.Inc() }

// StreamEnded is the counterpart of StreamStarted.
func (m *Metrics) StreamEnded() { m.activeStreams.Dec() }

// HeadersDropped records header changes withheld from Envoy.
func (m *Metrics) HeadersDropped(route string, n int) {
	m.droppedHeaders.WithLabelValues(route).Add(float64(n))
}
