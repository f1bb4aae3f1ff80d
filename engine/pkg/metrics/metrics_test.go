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
	m.RequestDecided("r", "deny")
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
# HELP policy_engine_requests_total Requests by route and request-phase decision (allow, deny, error, no_route, not_ready).
# TYPE policy_engine_requests_total counter
policy_engine_requests_total{decision="deny",route="r"} 1
# HELP policy_engine_dropped_header_mutations_total Header changes not sent because Envoy's mutation rules would ignore them.
# TYPE policy_engine_dropped_header_mutations_total counter
policy_engine_dropped_header_mutations_total{route="r"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"policy_engine_active_streams", "policy_engine_config_version", "policy_engine_config_reloads_total",
		"policy_engine_requests_total", "policy_engine_dropped_header_mutations_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.policyLatency); n != 1 {
		t.Errorf("latency series %d", n)
	}
}
