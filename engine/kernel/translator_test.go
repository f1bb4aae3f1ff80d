package kernel

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

func editConfig(params string, rules string) string {
	return `routes:
  - name: r
    policies:
      - name: edit
        version: v1.0.0
        parameters: ` + params + "\n" + rules
}

func TestHeaderMutations(t *testing.T) {
	e := startEngine(t, editConfig(`{set: {X-Set: "1", host: evil, x-envoy-retry-on: "5xx"}, append: {x-app: a, ":path": "/x"}, remove: [x-gone, ":authority"]}`, ""))
	resp := e.open(t).send(requestHeaders("r", true))
	c := resp.GetRequestHeaders().GetResponse()
	got := setHeaders(c)
	if got["x-set"] != "1" || got["x-app"] != "+a" || len(got) != 2 {
		t.Errorf("set headers %v (host, x-envoy-* and pseudo-header appends must be withheld)", got)
	}
	if rm := c.GetHeaderMutation().GetRemoveHeaders(); len(rm) != 1 || rm[0] != "x-gone" {
		t.Errorf("remove headers %v", rm)
	}
	if c.GetClearRouteCache() {
		t.Error("route cache cleared without a path change")
	}
	if n := e.metricValue(t, "policy_engine_dropped_header_mutations_total", "route=r"); n != 4 {
		t.Errorf("dropped count %v, want 4", n)
	}
}

func TestHeaderValuesThatWouldSplitAreWithheld(t *testing.T) {
	e := startEngine(t, editConfig(`{set: {x-ok: fine, x-bad: "a\r\nx-injected: 1"}, append: {x-nul: "a\u0000b"}}`, ""))
	got := setHeaders(e.open(t).send(requestHeaders("r", true)).GetRequestHeaders().GetResponse())
	if got["x-ok"] != "fine" || len(got) != 1 {
		t.Errorf("set headers %v", got)
	}
}

func TestMutationRulesAllowRoutingAndEnvoyHeaders(t *testing.T) {
	e := startEngine(t, editConfig(`{set: {host: backend, x-envoy-retry-on: "5xx"}, method: POST}`,
		"mutationRules: {allowAllRouting: true, allowEnvoy: true}\n"))
	c := e.open(t).send(requestHeaders("r", true)).GetRequestHeaders().GetResponse()
	got := setHeaders(c)
	if got["host"] != "backend" || got["x-envoy-retry-on"] != "5xx" || got[":method"] != "POST" {
		t.Errorf("set headers %v", got)
	}
	if !c.GetClearRouteCache() {
		t.Error("method rewrite must clear the route cache")
	}
}

func TestPathRewriteAndBodyReplacementOnHeaders(t *testing.T) {
	e := startEngine(t, editConfig(`{path: /v2/orders, body: "{}"}`, ""))
	c := e.open(t).send(requestHeaders("r", false)).GetRequestHeaders().GetResponse()
	got := setHeaders(c)
	if got[":path"] != "/v2/orders" || !c.GetClearRouteCache() {
		t.Errorf("path rewrite: headers %v clear %v", got, c.GetClearRouteCache())
	}
	if c.GetStatus() != extprocv3.CommonResponse_CONTINUE_AND_REPLACE || string(c.GetBodyMutation().GetBody()) != "{}" || got["content-length"] != "2" {
		t.Errorf("body replacement: status %v body %q content-length %q", c.GetStatus(), c.GetBodyMutation().GetBody(), got["content-length"])
	}
}

func TestEmptyBodyReplacementClearsBody(t *testing.T) {
	e := startEngine(t, editConfig(`{body: ""}`, ""))
	c := e.open(t).send(requestHeaders("r", false)).GetRequestHeaders().GetResponse()
	if !c.GetBodyMutation().GetClearBody() || setHeaders(c)["content-length"] != "0" {
		t.Errorf("got %v", c)
	}
}

// A body replacement decided on headers while a later policy waits for the body is
// what that policy sees, and it goes with the body response, not the headers one
// (which would end Envoy's wait for the body); the header changes go with the
// headers response only.
func TestBodyReplacementOnHeadersWaitsForTheBody(t *testing.T) {
	e := startEngine(t, `routes:
  - name: r
    policies:
      - {name: edit, version: v1.0.0, parameters: {set: {x-a: "1"}, body: replaced}}
      - {name: body, version: v1.0.0}
`)
	s := e.open(t)
	c := s.send(requestHeaders("r", false)).GetRequestHeaders().GetResponse()
	if got := setHeaders(c); got["x-a"] != "1" || got["content-length"] != "" {
		t.Errorf("headers response sets %v", got)
	}
	if c.GetBodyMutation() != nil || c.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
		t.Errorf("headers response replaced the body the next policy waits for: %v", c)
	}
	c = s.send(requestBody("original", true)).GetRequestBody().GetResponse()
	got := setHeaders(c)
	if got["x-body"] != "replaced" || got["content-length"] != "8" || got["x-a"] != "" {
		t.Errorf("body response sets %v", got)
	}
	if string(c.GetBodyMutation().GetBody()) != "replaced" {
		t.Errorf("body response body %q", c.GetBodyMutation().GetBody())
	}
	s.close()
}
