package xds

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/anypb"
)

const sample = `
defaultRoute: default
noRouteAction: deny
routes:
  - name: zeta
    failOpen: false
    policies:
      - name: apiKey
        version: v1.0.0
        enabled: true
        parameters: {header: x-api-key, keys: [a, b]}
  - name: alpha
    policies:
      - name: rateLimiting
        version: v1.0.0
        timeout: 50ms
        parameters: {requestsPerUnit: 100, unit: second}
`

func toAny(t *testing.T, raw string, version string) []*anypb.Any {
	t.Helper()
	parts, err := Split([]byte(raw), version)
	if err != nil {
		t.Fatal(err)
	}
	var out []*anypb.Any
	// Reverse order: the wire gives no order guarantee, reassembly must restore it.
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := anypb.New(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestSplitAssembleRoundTrip(t *testing.T) {
	doc, version, err := Assemble(toAny(t, sample, "v7"))
	if err != nil {
		t.Fatal(err)
	}
	if version != "v7" {
		t.Errorf("version = %q", version)
	}
	var got map[string]any
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"defaultRoute":  "default",
		"noRouteAction": "deny",
		"routes": []any{
			map[string]any{"name": "zeta", "failOpen": false, "policies": []any{map[string]any{
				"name": "apiKey", "version": "v1.0.0", "enabled": true,
				"parameters": map[string]any{"header": "x-api-key", "keys": []any{"a", "b"}}}}},
			map[string]any{"name": "alpha", "policies": []any{map[string]any{
				"name": "rateLimiting", "version": "v1.0.0", "timeout": "50ms",
				"parameters": map[string]any{"requestsPerUnit": float64(100), "unit": "second"}}}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("assembled\n%s\nwant\n%v", doc, want)
	}
	if !strings.Contains(string(doc), `"requestsPerUnit":100`) {
		t.Errorf("integer parameter not rendered as an integer: %s", doc)
	}
}

func TestSplitRejectsMalformedDocuments(t *testing.T) {
	for name, raw := range map[string]string{
		"not yaml":        "routes: [",
		"routes not list": "routes: {a: 1}",
		"route not map":   "routes: [a]",
		"unnamed route":   "routes: [{policies: []}]",
		"duplicate route": "routes: [{name: a}, {name: a}]",
	} {
		if _, err := Split([]byte(raw), "v"); err == nil {
			t.Errorf("%s: Split accepted %q", name, raw)
		}
	}
}

func TestAssembleNeedsSettings(t *testing.T) {
	parts := toAny(t, sample, "v1")
	// toAny reverses: the settings part is last.
	if _, _, err := Assemble(parts[:len(parts)-1]); err == nil {
		t.Error("Assemble accepted an update without settings")
	}
	wrong, _ := anypb.New(&anypb.Any{TypeUrl: "x"})
	if _, _, err := Assemble(append(parts, wrong)); err == nil {
		t.Error("Assemble accepted a resource of another type")
	}
}

func TestSnapshotVersionsPerResource(t *testing.T) {
	a, err := Split([]byte(sample), "v1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Split([]byte(strings.Replace(sample, "50ms", "60ms", 1)), "v2")
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := newSnapshot("v1", a)
	sb, _ := newSnapshot("v2", b)
	va, vb := sa.GetVersionMap(TypeURL), sb.GetVersionMap(TypeURL)
	if va["route/zeta"] != vb["route/zeta"] {
		t.Error("unchanged chain got a new version")
	}
	if va["route/alpha"] == vb["route/alpha"] || va["settings"] == vb["settings"] {
		t.Error("changed chain (or settings carrying the snapshot version) kept its version")
	}
	if sa.GetVersion(TypeURL) != "v1" || sa.GetVersion("other") != "" || len(sa.GetResources(TypeURL)) != 3 {
		t.Error("snapshot accessors")
	}
}
