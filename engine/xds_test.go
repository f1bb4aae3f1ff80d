package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
	"github.com/policy-engine-builder/policy-engine/pkg/tlsfiles"
	"github.com/policy-engine-builder/policy-engine/pkg/tlsfiles/tlstest"
)

// engineAddrs are the HTTP addresses of an engine started by startEngine.
type engineAddrs struct{ admin, debug string }

// startEngine runs serve in-process until the test ends.
func startEngine(t *testing.T, opts serveOptions) engineAddrs {
	t.Helper()
	opts.listen, opts.admin, opts.debug = testproc.FreeAddr(t), testproc.FreeAddr(t), testproc.FreeAddr(t)
	opts.logFormat, opts.logLevel = "text", "error"
	if opts.reloadInterval == 0 {
		opts.reloadInterval = 20 * time.Millisecond
	}
	opts.drainTimeout = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, opts, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine stopped with %v", err)
		}
	})
	return engineAddrs{admin: opts.admin, debug: opts.debug}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// routes lists the route names in force at an engine, "" when it has none yet.
func routes(t *testing.T, e engineAddrs) string {
	t.Helper()
	code, body := get(t, "http://"+e.debug+"/config_dump")
	if code != http.StatusOK {
		return ""
	}
	var dump struct {
		Config struct {
			Routes []struct{ Name string } `json:"routes"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(body), &dump); err != nil {
		t.Fatalf("config_dump: %v: %s", err, body)
	}
	var names []string
	for _, r := range dump.Config.Routes {
		names = append(names, r.Name)
	}
	return strings.Join(names, ",")
}

// metric returns the sample line of name at an engine, "" when absent.
func metric(t *testing.T, e engineAddrs, name string) string {
	t.Helper()
	_, body := get(t, "http://"+e.admin+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			return line
		}
	}
	return ""
}

func writeConfig(t *testing.T, path string, routes ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("noRouteAction: deny\nroutes:\n")
	for _, r := range routes {
		// No policy is compiled into this test binary, so a chain naming one is
		// exactly what the engine's store rejects.
		name, policy, _ := strings.Cut(r, ":")
		if policy == "" {
			fmt.Fprintf(&b, "  - name: %s\n    policies: []\n", name)
		} else {
			fmt.Fprintf(&b, "  - name: %s\n    policies: [{name: %s, version: v1.0.0}]\n", name, policy)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestServeXDSFleet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, "a", "b")
	xdsAddr := testproc.FreeAddr(t)

	// The subscriber starts first: with no config it must not be ready.
	sub := startEngine(t, serveOptions{xdsServer: xdsAddr, nodeID: "sub-1"})
	testproc.Eventually(t, "subscriber admin", 10*time.Second, func() bool { code, _ := get(t, "http://"+sub.admin+"/readyz"); return code != 0 })
	if code, _ := get(t, "http://"+sub.admin+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("subscriber without config: /readyz %d, want 503", code)
	}

	srv := startEngine(t, serveOptions{config: path, xdsListen: xdsAddr})
	testproc.Eventually(t, "subscriber gets the served config", 10*time.Second, func() bool { return routes(t, sub) == "a,b" })
	if code, _ := get(t, "http://"+sub.admin+"/readyz"); code != http.StatusOK {
		t.Errorf("subscriber with config: /readyz %d", code)
	}
	if got := metric(t, srv, "policy_engine_xds_version_info"); !strings.Contains(got, `role="server"`) {
		t.Errorf("server version metric: %q", got)
	}

	// A file change reaches the subscriber.
	writeConfig(t, path, "a", "b", "c")
	testproc.Eventually(t, "subscriber gets the change", 10*time.Second, func() bool { return routes(t, sub) == "a,b,c" })
	testproc.Eventually(t, "update counted", 10*time.Second, func() bool {
		return metric(t, sub, "policy_engine_xds_updates_total") == "policy_engine_xds_updates_total 2"
	})

	// A chain the engine cannot build is NACKed; the last good config keeps serving
	// and both sides count the NACK.
	writeConfig(t, path, "a", "d:noSuchPolicy")
	testproc.Eventually(t, "subscriber NACK metric", 10*time.Second, func() bool {
		return metric(t, sub, "policy_engine_xds_nacks_total") == "policy_engine_xds_nacks_total 1"
	})
	testproc.Eventually(t, "server sees the NACK", 10*time.Second, func() bool {
		return metric(t, srv, "policy_engine_xds_nacks_received_total") == "policy_engine_xds_nacks_received_total 1"
	})
	if got := routes(t, sub); got != "a,b,c" {
		t.Errorf("after NACK the subscriber runs %q, want the last good a,b,c", got)
	}
	// The serving engine's own file watcher rejects the same file and keeps its config.
	if got := routes(t, srv); got != "a,b,c" {
		t.Errorf("server runs %q, want a,b,c", got)
	}

	// A fix after the NACK is applied.
	writeConfig(t, path, "e")
	testproc.Eventually(t, "subscriber recovers", 10*time.Second, func() bool { return routes(t, sub) == "e" })
}

func TestServeXDSSeedConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.yaml")
	writeConfig(t, path, "seed")
	// No management server is listening: the --config file alone makes the engine ready,
	// and the subscription keeps retrying in the background.
	sub := startEngine(t, serveOptions{config: path, xdsServer: testproc.FreeAddr(t), nodeID: "n"})
	testproc.Eventually(t, "seeded engine ready", 10*time.Second, func() bool { code, _ := get(t, "http://"+sub.admin+"/readyz"); return code == http.StatusOK })
	if got := routes(t, sub); got != "seed" {
		t.Errorf("routes %q", got)
	}
	testproc.Eventually(t, "reconnect counted", 10*time.Second, func() bool {
		line := metric(t, sub, "policy_engine_xds_reconnects_total")
		return line != "" && line != "policy_engine_xds_reconnects_total 0"
	})
}

func TestServeFlagCombinations(t *testing.T) {
	for _, args := range [][]string{
		{"--xds-listen", ":0"},
		{"--config", "c.yaml", "--xds-listen", ":0", "--xds-server", "h:1"},
		{"--node-id", "n"},
		{"--xds-cert", "c.pem", "--xds-key", "k.pem"},
		{"--config", "c.yaml", "--xds-listen", "127.0.0.1:0", "--xds-ca", "ca.pem"},
		{"--config", "c.yaml", "--xds-listen", "127.0.0.1:0", "--xds-insecure", "--xds-cert", "c.pem", "--xds-key", "k.pem"},
		{"--xds-insecure"},
		{"--tls-cert", "c.pem"},
	} {
		err := dispatch(context.Background(), append([]string{"serve"}, args...), io.Discard)
		var usage usageError
		if !errors.As(err, &usage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestServeXDSOverMutualTLS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, "mtls")
	ca := tlstest.NewCA(t, "fleet")
	serverCert, serverKey := ca.Issue(t, "xds-server")
	clientCert, clientKey := ca.Issue(t, "engine-1")
	xdsAddr := testproc.FreeAddr(t)
	srv := startEngine(t, serveOptions{config: path, xdsListen: xdsAddr,
		xdsTLS: tlsfiles.Files{Cert: serverCert, Key: serverKey, CA: ca.Cert}})
	testproc.Eventually(t, "server ready", 10*time.Second, func() bool { code, _ := get(t, "http://"+srv.admin+"/readyz"); return code == http.StatusOK })

	// Subscribers dial 127.0.0.1, which the server certificate names.
	sub := startEngine(t, serveOptions{xdsServer: xdsAddr, nodeID: "with-cert",
		xdsTLS: tlsfiles.Files{Cert: clientCert, Key: clientKey, CA: ca.Cert}})
	noCert := startEngine(t, serveOptions{xdsServer: xdsAddr, nodeID: "without-cert", xdsTLS: tlsfiles.Files{CA: ca.Cert}})
	plain := startEngine(t, serveOptions{xdsServer: xdsAddr, nodeID: "plaintext"})
	testproc.Eventually(t, "the subscriber with a certificate gets the config", 10*time.Second, func() bool { return routes(t, sub) == "mtls" })

	// The others keep failing to connect and never get a configuration.
	for name, e := range map[string]engineAddrs{"without a certificate": noCert, "in plaintext": plain} {
		testproc.Eventually(t, "refused reconnects of the subscriber "+name, 10*time.Second, func() bool {
			line := metric(t, e, "policy_engine_xds_reconnects_total")
			return line != "" && line != "policy_engine_xds_reconnects_total 0"
		})
		if code, _ := get(t, "http://"+e.admin+"/readyz"); code != http.StatusServiceUnavailable {
			t.Errorf("subscriber %s: /readyz %d, want 503", name, code)
		}
		if got := routes(t, e); got != "" {
			t.Errorf("subscriber %s got routes %q", name, got)
		}
	}
}

func TestXDSListenAddressWithoutTLS(t *testing.T) {
	cases := []struct {
		listen   string
		insecure bool
		want     string
		warns    bool
		err      bool
	}{
		{listen: "127.0.0.1:9002", want: "127.0.0.1:9002"},
		{listen: "[::1]:9002", want: "[::1]:9002"},
		{listen: ":9002", want: "127.0.0.1:9002", warns: true},
		{listen: ":9002", insecure: true, want: ":9002", warns: true},
		{listen: "10.0.0.7:9002", err: true},
		{listen: "0.0.0.0:9002", err: true},
		{listen: "0.0.0.0:9002", insecure: true, want: "0.0.0.0:9002", warns: true},
	}
	for _, tc := range cases {
		o := serveOptions{xdsListen: tc.listen, xdsInsecure: tc.insecure}
		addr, warning, err := o.xdsListenAddress()
		if (err != nil) != tc.err || addr != tc.want || (warning != "") != tc.warns {
			t.Errorf("%s insecure=%v: %q %q %v", tc.listen, tc.insecure, addr, warning, err)
		}
	}
	o := serveOptions{xdsListen: "0.0.0.0:9002", xdsTLS: tlsfiles.Files{Cert: "c", Key: "k"}}
	if addr, warning, err := o.xdsListenAddress(); addr != "0.0.0.0:9002" || warning != "" || err != nil {
		t.Errorf("with TLS: %q %q %v", addr, warning, err)
	}
}
