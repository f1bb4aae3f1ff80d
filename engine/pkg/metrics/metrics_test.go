package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsRecord(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.ConfigApplied(3)
	m.ConfigRejected("file")
	m.PolicyExecuted("r", "apiKey:v1.0.0", "request", "immediate", time.Millisecond)
	m.PolicyExecuted("r", "apiKey:v1.0.0", "request", "immediate", time.Millisecond)
	m.PolicyExecuted("r", "apiKey:v1.0.0", "request", "continue", time.Millisecond)
	m.RequestDecided("r", "deny")
	m.RequestDecided("r", "allow")
	m.RequestDecided("r", "allow")
	m.StreamStarted()
	m.StreamStarted()
	m.StreamEnded()
	m.HeadersDropped("r", 2)
	want := `
# HELP policy_engine_active_streams ext_proc streams open now.
# TYPE policy_engine_active_streams gauge
policy_engine_active_streams 1
# HELP policy_engine_config_version Version of the configuration in force (increments with each applied configuration).
# TYPE policy_engine_config_version gauge
policy_engine_config_version 3
# HELP policy_engine_config_reloads_total Configuration attempts by result (ok, failed).
# TYPE policy_engine_config_reloads_total counter
policy_engine_config_reloads_total{result="failed"} 1
policy_engine_config_reloads_total{result="ok"} 1
# HELP policy_engine_policy_executions_total Policy runs by route, policy (name:version), phase and decision (continue, immediate, skipped, error).
# TYPE policy_engine_policy_executions_total counter
policy_engine_policy_executions_total{decision="continue",phase="request",policy="apiKey:v1.0.0",route="r"} 1
policy_engine_policy_executions_total{decision="immediate",phase="request",policy="apiKey:v1.0.0",route="r"} 2
# HELP policy_engine_requests_total Requests by route and request-phase decision (allow, deny, error, no_route, not_ready).
# TYPE policy_engine_requests_total counter
policy_engine_requests_total{decision="allow",route="r"} 2
policy_engine_requests_total{decision="deny",route="r"} 1
# HELP policy_engine_dropped_header_mutations_total Header changes not sent because Envoy's mutation rules would ignore them.
# TYPE policy_engine_dropped_header_mutations_total counter
policy_engine_dropped_header_mutations_total{route="r"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"policy_engine_active_streams", "policy_engine_config_version", "policy_engine_config_reloads_total",
		"policy_engine_requests_total", "policy_engine_dropped_header_mutations_total",
		"policy_engine_policy_executions_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.policyLatency); n != 1 {
		t.Errorf("latency series %d", n)
	}
}

func TestXDSMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.XDSApplied("v1")
	m.XDSApplied("v2")
	m.XDSRejected()
	m.XDSReconnected()
	m.XDSPublished("p1")
	m.XDSUnpublishable()
	m.XDSNackReceived()
	want := `
# HELP policy_engine_xds_nacks_total Configurations received over xDS and refused.
# TYPE policy_engine_xds_nacks_total counter
policy_engine_xds_nacks_total 1
# HELP policy_engine_xds_updates_total Configurations received over xDS, applied and ACKed.
# TYPE policy_engine_xds_updates_total counter
policy_engine_xds_updates_total 2
# HELP policy_engine_xds_reconnects_total Times the xDS subscription stream broke and was retried.
# TYPE policy_engine_xds_reconnects_total counter
policy_engine_xds_reconnects_total 1
# HELP policy_engine_xds_nacks_received_total NACKs the xDS server received from subscribers.
# TYPE policy_engine_xds_nacks_received_total counter
policy_engine_xds_nacks_received_total 1
# HELP policy_engine_xds_publish_total Config file changes seen by the xDS server by result (ok: published, invalid: not publishable, subscribers keep the previous version).
# TYPE policy_engine_xds_publish_total counter
policy_engine_xds_publish_total{result="invalid"} 1
policy_engine_xds_publish_total{result="ok"} 1
# HELP policy_engine_xds_version_info Always 1; the version label is the xDS version this engine last applied (role=subscriber) or published (role=server).
# TYPE policy_engine_xds_version_info gauge
policy_engine_xds_version_info{role="server",version="p1"} 1
policy_engine_xds_version_info{role="subscriber",version="v2"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"policy_engine_xds_nacks_total", "policy_engine_xds_updates_total", "policy_engine_xds_reconnects_total",
		"policy_engine_xds_nacks_received_total", "policy_engine_xds_publish_total", "policy_engine_xds_version_info"); err != nil {
		t.Error(err)
	}
}
