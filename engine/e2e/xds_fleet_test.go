//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
)

// metricLine returns the sample of a counter without labels at an engine.
func metricLine(t *testing.T, admin, name string) string {
	t.Helper()
	resp, body := testproc.Do(t, http.MethodGet, "http://"+admin+"/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return line
		}
	}
	return ""
}

func TestXDSFleet(t *testing.T) {
	bin := binary(t)
	config := filepath.Join(t.TempDir(), "engine.yaml")
	testproc.WriteFile(t, config, fmt.Sprintf(configTemplate, "v1"))
	xdsAddr := testproc.FreeAddr(t)
	server := startWith(t, bin, config, "--config", config, "--xds-listen", xdsAddr)
	var subs []*engine
	for i := range 2 {
		// startWith returns once the subscriber is ready, i.e. has applied the
		// configuration it was sent.
		subs = append(subs, startWith(t, bin, "", "--xds-server", xdsAddr, "--node-id", fmt.Sprintf("e2e-sub-%d", i)))
	}
	for i, s := range subs {
		c := dial(t, s.Extproc)
		if got := headerSet(process(t, c, "e2e-route", "x-api-key", "e2e-secret"))["x-e2e"]; got != "v1" {
			t.Errorf("subscriber %d: x-e2e = %q, want v1 from the served file", i, got)
		}
		if code := process(t, c, "e2e-route").GetImmediateResponse().GetStatus().GetCode(); code != 401 {
			t.Errorf("subscriber %d: no key gave %d, want 401", i, code)
		}
	}

	// A file change reaches both subscribers.
	testproc.WriteFile(t, config, fmt.Sprintf(configTemplate, "v2"))
	for _, s := range subs {
		waitForHeader(t, dial(t, s.Extproc), "v2")
	}

	// A chain naming a policy version that is not compiled in is NACKed by both;
	// they keep serving v2 and count the NACK.
	testproc.WriteFile(t, config, strings.Replace(fmt.Sprintf(configTemplate, "v3"), "version: v1.0.0", "version: v9.9.9", 1))
	for i, s := range subs {
		testproc.Eventually(t, fmt.Sprintf("subscriber %d NACK metric", i), 10*time.Second, func() bool {
			return metricLine(t, s.Admin, "policy_engine_xds_nacks_total") == "policy_engine_xds_nacks_total 1"
		})
		if got := headerSet(process(t, dial(t, s.Extproc), "e2e-route", "x-api-key", "e2e-secret"))["x-e2e"]; got != "v2" {
			t.Errorf("subscriber %d after NACK: x-e2e = %q, want the last good v2", i, got)
		}
	}
	testproc.Eventually(t, "server counts both NACKs", 10*time.Second, func() bool {
		return metricLine(t, server.Admin, "policy_engine_xds_nacks_received_total") == "policy_engine_xds_nacks_received_total 2"
	})
}
