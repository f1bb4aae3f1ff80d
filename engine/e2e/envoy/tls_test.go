//go:build envoy

package envoy

import (
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
	"github.com/policy-engine-builder/policy-engine/pkg/tlsfiles/tlstest"
)

// TestExtProcOverMutualTLS: an engine serving ext_proc over TLS that requires client
// certificates, and the Envoy configuration envoy-config writes for it; an Envoy
// without a client certificate gets nothing through (fail closed).
func TestExtProcOverMutualTLS(t *testing.T) {
	bin, _ := binaries(t)
	ca := tlstest.NewCA(t, "engines")
	engineCert, engineKey := ca.Issue(t, "engine")
	envoyCert, envoyKey := ca.Issue(t, "envoy")
	config := lifecycleFile(t, "tls", "2s")
	e := startEngine(t, bin, "--config", config, "--tls-cert", engineCert, "--tls-key", engineKey, "--tls-client-ca", ca.Cert)

	s := envoyWith(t, config, []string{e.Extproc}, 200*time.Millisecond, []string{"--engine-ca", ca.Cert,
		"--engine-client-cert", envoyCert, "--engine-client-key", envoyKey, "--engine-sni", "localhost"}, "/api=api")
	s.waitHealthy(t, 1)
	if got := configSeen(t, s); got != "tls" {
		t.Fatalf("with a client certificate: %q, want the engine's answer", got)
	}
	n := s.echo.Count()
	if resp, _ := testproc.Do(t, "GET", s.url+"/api/items", nil); resp.StatusCode != 401 || s.echo.Count() != n {
		t.Errorf("without an API key: %d, want 401 from the engine", resp.StatusCode)
	}

	anonymous := envoyWith(t, config, []string{e.Extproc}, 200*time.Millisecond, []string{"--engine-ca", ca.Cert, "--engine-sni", "localhost"}, "/api=api")
	n = anonymous.echo.Count()
	if resp, body := testproc.Do(t, "GET", anonymous.url+"/api/items", nil, "x-api-key", "k1"); resp.StatusCode == 200 || anonymous.echo.Count() != n {
		t.Errorf("Envoy without a client certificate: %d %q, reached upstream %v; want a refusal", resp.StatusCode, body, anonymous.echo.Count() != n)
	}
}
