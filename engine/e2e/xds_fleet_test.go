//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func httpGet(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// metricLine returns the sample of a counter without labels at an engine.
func metricLine(t *testing.T, admin, name string) string {
	t.Helper()
	code, body := httpGet(t, "http://"+admin+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return line
		}
	}
	return ""
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10s waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestXDSFleet(t *testing.T) {
	bin := binary(t)
	config := filepath.Join(t.TempDir(), "engine.yaml")
	write := func(content string) {
		t.Helper()
		// Write and rename so the server never reads a half-written file.
		if err := os.WriteFile(config+".tmp", []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(config+".tmp", config); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf(configTemplate, "v1"))
	xdsAddr := freeAddr(t)
	server := startWith(t, bin, config, "--config", config, "--xds-listen", xdsAddr)
	var subs []*engine
	for i := range 2 {
		// startWith returns once the subscriber is ready, i.e. has applied the
		// configuration it was sent.
		subs = append(subs, startWith(t, bin, "", "--xds-server", xdsAddr, "--node-id", fmt.Sprintf("e2e-sub-%d", i)))
	}
	for i, s := range subs {
		c := dial(t, s.extproc)
		if got := headerSet(process(t, c, "e2e-route", "x-api-key", "e2e-secret"))["x-e2e"]; got != "v1" {
			t.Errorf("subscriber %d: x-e2e = %q, want v1 from the served file", i, got)
		}
		if code := process(t, c, "e2e-route").GetImmediateResponse().GetStatus().GetCode(); code != 401 {
			t.Errorf("subscriber %d: no key gave %d, want 401", i, code)
		}
	}

	// A file change reaches both subscribers.
	write(fmt.Sprintf(configTemplate, "v2"))
	for _, s := range subs {
		waitForHeader(t, dial(t, s.extproc), "v2")
	}

	// A chain naming a policy version that is not compiled in is NACKed by both;
	// they keep serving v2 and count the NACK.
	write(strings.Replace(fmt.Sprintf(configTemplate, "v3"), "version: v1.0.0", "version: v9.9.9", 1))
	for i, s := range subs {
		eventually(t, fmt.Sprintf("subscriber %d NACK metric", i), func() bool {
			return metricLine(t, s.admin, "policy_engine_xds_nacks_total") == "policy_engine_xds_nacks_total 1"
		})
		if got := headerSet(process(t, dial(t, s.extproc), "e2e-route", "x-api-key", "e2e-secret"))["x-e2e"]; got != "v2" {
			t.Errorf("subscriber %d after NACK: x-e2e = %q, want the last good v2", i, got)
		}
	}
	eventually(t, "server counts both NACKs", func() bool {
		return metricLine(t, server.admin, "policy_engine_xds_nacks_received_total") == "policy_engine_xds_nacks_received_total 2"
	})
}
