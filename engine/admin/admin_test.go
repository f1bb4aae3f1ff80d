package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/policy-engine-builder/policy-engine/pkg/metrics"
	"github.com/policy-engine-builder/policy-engine/pkg/redact"
	"github.com/policy-engine-builder/policy-engine/worker/core"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

type noop struct{}

func (noop) Name() string                  { return "noop" }
func (noop) Validate(map[string]any) error { return nil }
func (noop) ExecuteRequest(*policies.RequestContext, map[string]any) *policies.RequestPolicyAction {
	return nil
}

func setup(t *testing.T) (*core.ConfigStore, http.Handler, http.Handler) {
	reg := core.NewRegistry()
	err := reg.Register(core.PolicyDefinition{Name: "noop", Version: "v1.0.0", GoModule: "example.com/noop", SourcePath: "noop/v1.0.0",
		Factory: func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) { return noop{}, nil },
		Spec:    []byte("name: noop\nversion: v1.0.0\ndescription: does nothing\nparameters: [{name: level, type: integer}, {name: keys, type: array, items: {type: string}, sensitive: true}]\n")})
	if err != nil {
		t.Fatal(err)
	}
	promReg := prometheus.NewRegistry()
	m := metrics.New(promReg)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := core.NewConfigStore(core.NewCatalog(reg), logger, m)
	return store, Handler(store, promReg), DebugHandler(store, logger)
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestReadinessFollowsConfiguration(t *testing.T) {
	store, h, debug := setup(t)
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, _ := get(t, h, "/readyz"); code != 503 {
		t.Errorf("readyz without config %d", code)
	}
	if code, _ := get(t, debug, "/config_dump"); code != 503 {
		t.Errorf("config_dump without config %d", code)
	}
	if err := store.Apply([]byte("routes:\n  - name: r\n    policies: [{name: noop, version: v1.0.0, parameters: {level: 2}}]\n"), "engine.yaml"); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, h, "/readyz"); code != 200 {
		t.Errorf("readyz with config %d", code)
	}
	code, body := get(t, debug, "/config_dump")
	var dump struct {
		Version uint64
		Source  string
		Config  core.Config
	}
	if err := json.Unmarshal([]byte(body), &dump); err != nil || code != 200 {
		t.Fatalf("config_dump %d %v: %s", code, err, body)
	}
	if dump.Version != 1 || dump.Source != "engine.yaml" || dump.Config.Routes[0].Policies[0].Parameters["level"] != float64(2) {
		t.Errorf("dump %+v", dump)
	}
	_, body = get(t, h, "/metrics")
	if !strings.Contains(body, "policy_engine_config_version 1") || !strings.Contains(body, `policy_engine_config_reloads_total{result="ok"} 1`) {
		t.Errorf("metrics:\n%s", body)
	}
}

func TestPoliciesCatalogue(t *testing.T) {
	_, _, debug := setup(t)
	code, body := get(t, debug, "/policies")
	var doc catalogueDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil || code != 200 {
		t.Fatalf("%d %v", code, err)
	}
	if doc.Build.Version == "" || len(doc.Policies) != 1 {
		t.Fatalf("doc %+v", doc)
	}
	p := doc.Policies[0]
	if p.Name != "noop" || p.GoModule != "example.com/noop" || !p.RequestPhase || p.Description != "does nothing" || p.Parameters[0].Name != "level" {
		t.Errorf("entry %+v", p)
	}
}

func TestDebugEndpointsAreNotOnAdmin(t *testing.T) {
	_, h, _ := setup(t)
	for _, path := range []string{"/config_dump", "/policies"} {
		if code, _ := get(t, h, path); code != http.StatusNotFound {
			t.Errorf("admin serves %s: %d", path, code)
		}
	}
}

func TestConfigDumpRedactsSensitiveParameters(t *testing.T) {
	store, _, debug := setup(t)
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte("file-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ADMIN_TEST_KEY", "env-secret-value")
	config := "routes:\n  - name: r\n    policies: [{name: noop, version: v1.0.0, parameters: {level: 2, keys: " +
		"[plain-secret-value, {fromEnv: ADMIN_TEST_KEY}, {fromFile: " + file + "}]}}]\n"
	if err := store.Apply([]byte(config), "engine.yaml"); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, debug, "/config_dump")
	for _, secret := range []string{"plain-secret-value", "env-secret-value", "file-secret-value"} {
		if strings.Contains(body, secret) {
			t.Errorf("config dump shows %q:\n%s", secret, body)
		}
	}
	var dump struct{ Config core.Config }
	if err := json.Unmarshal([]byte(body), &dump); err != nil {
		t.Fatal(err)
	}
	params := dump.Config.Routes[0].Policies[0].Parameters
	if params["level"] != float64(2) {
		t.Errorf("a parameter that is not sensitive is shown as %v", params["level"])
	}
	keys, _ := params["keys"].([]any)
	want := []any{
		redact.Redacted("plain-secret-value"),
		map[string]any{"fromEnv": "ADMIN_TEST_KEY", "value": redact.Redacted("env-secret-value")},
		map[string]any{"fromFile": file, "value": redact.Redacted("file-secret-value")},
	}
	if len(keys) != len(want) {
		t.Fatalf("keys %#v", keys)
	}
	for i := range want {
		got, _ := json.Marshal(keys[i])
		exp, _ := json.Marshal(want[i])
		if string(got) != string(exp) {
			t.Errorf("keys[%d] = %s, want %s", i, got, exp)
		}
	}
	if !strings.HasPrefix(redact.Redacted("a"), "[redacted] ") || redact.Redacted("a") == redact.Redacted("b") {
		t.Errorf("fingerprints do not tell values apart: %q %q", redact.Redacted("a"), redact.Redacted("b"))
	}
}
