package core

import (
	"strings"
	"testing"
)

func TestParseConfigIsStrict(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"unknown field":  {"routes: []\nroutez: []\n", "line 2: field routez not found"},
		"nested unknown": {"routes:\n  - name: a\n    policies: []\n    failopen: true\n", "line 4: field failopen not found"},
		"duplicate key":  {"routes: []\nroutes: []\n", `"routes" already defined`},
		"two documents":  {"routes: []\n---\nroutes: []\n", "more than one YAML document"},
		"empty":          {"", "empty configuration"},
		"wrong type":     {"routes: {}\n", "line 1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseConfig([]byte(tc.yaml), "engine.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "engine.yaml") {
				t.Fatalf("error %v, want it to start with the source and mention %q", err, tc.want)
			}
		})
	}
}

func TestParseConfigAcceptsJSON(t *testing.T) {
	cfg, _, err := ParseConfig([]byte(`{"routes":[{"name":"r","policies":[{"name":"step","version":"v1.0.0","parameters":{"tag":"a"}}]}]}`), "xds")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Routes[0].Policies[0].Parameters["tag"] != "a" {
		t.Errorf("parameters lost: %#v", cfg.Routes[0].Policies[0])
	}
}

func TestBuildErrorsNameRoutePolicyVersionParameterAndLine(t *testing.T) {
	store, _ := newTestStore(t)
	cfg := `routes:
  - name: orders
    policies:
      - name: step
        version: v1.0.0
        parameters: {tag: a, colour: red}
      - name: step
        version: v9.0.0
      - name: step
        version: v1.0.0
        when: 'request.nope('
      - name: step
        version: v1.0.0
        parameters: {invalid: true}
      - name: broken
        version: v1.0.0
      - name: requestOnly
        version: v1.0.0
      - name: step
        version: v1.0.0
        timeout: fast
  - name: orders
    policies: []
defaultRoute: missing
noRouteAction: maybe
`
	err := store.Apply([]byte(cfg), "engine.yaml")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`engine.yaml:4: route "orders" policy step:v1.0.0: parameter "colour": unknown parameter`,
		`engine.yaml:7: route "orders" policy step:v9.0.0: not compiled into this engine (available: v1.0.0, v2.0.0)`,
		`engine.yaml:9: route "orders" policy step:v1.0.0: when "request.nope("`,
		`engine.yaml:12: route "orders" policy step:v1.0.0: policy rejected its parameters (Validate): told to be invalid`,
		`engine.yaml:15: route "orders" policy broken:v1.0.0: panic while instantiating: factory boom`,
		`engine.yaml:17: route "orders" policy requestOnly:v1.0.0: policy.yaml declares the response phase but the policy does not implement ResponsePolicy`,
		`engine.yaml:19: route "orders" policy step:v1.0.0: timeout: "fast"`,
		`engine.yaml:22: route "orders" defined twice`,
		`defaultRoute "missing" is not a configured route`,
		`noRouteAction "maybe" must be deny or allow`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if store.Current() != nil {
		t.Error("an invalid configuration was applied")
	}
}
