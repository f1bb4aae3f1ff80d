package kernel

import (
	"strings"
	"testing"
	"time"
)

func faultConfig(do string, failOpen bool) string {
	cfg := "routes:\n  - name: r\n"
	if failOpen {
		cfg += "    failOpen: true\n"
	}
	return cfg + `    policies:
      - name: fault
        version: v1.0.0
        parameters: {do: ` + do + `}
      - name: edit
        version: v1.0.0
        parameters: {set: {x-after: ran}}
`
}

func TestPolicyFailuresAnswer500WithErrorID(t *testing.T) {
	for _, do := range []string{"panic", "slow", "error"} {
		t.Run(do, func(t *testing.T) {
			e := startEngine(t, faultConfig(do, false))
			s := e.open(t)
			start := time.Now()
			resp := s.send(requestHeaders("r", true))
			if elapsed := time.Since(start); elapsed > 300*time.Millisecond {
				t.Errorf("answer took %v; the policy's 50ms deadline was not kept", elapsed)
			}
			ir := resp.GetImmediateResponse()
			if ir.GetStatus().GetCode() != 500 {
				t.Fatalf("got %v", resp)
			}
			id := immediateHeaders(ir)["x-policy-engine-error-id"]
			if len(id) != 16 || !strings.Contains(string(ir.GetBody()), id) {
				t.Fatalf("error id %q not in body %q", id, ir.GetBody())
			}
			if !strings.Contains(e.logs.String(), "error_id="+id) {
				t.Errorf("error id %s not logged", id)
			}
			s.close()
			// The engine keeps serving.
			if resp := e.open(t).send(requestHeaders("r", true)); resp.GetImmediateResponse().GetStatus().GetCode() != 500 {
				t.Errorf("second request: %v", resp)
			}
			if n := e.metricValue(t, "policy_engine_requests_total", "route=r", "decision=error"); n != 2 {
				t.Errorf("error count %v", n)
			}
		})
	}
}

func TestFailOpenRouteSkipsFailedPolicy(t *testing.T) {
	e := startEngine(t, faultConfig("panic", true))
	resp := e.open(t).send(requestHeaders("r", true))
	if got := setHeaders(resp.GetRequestHeaders().GetResponse()); got["x-after"] != "ran" {
		t.Fatalf("got %v", resp)
	}
	if !strings.Contains(e.logs.String(), "fault policy panics") {
		t.Error("failure on a fail-open route was not logged")
	}
}

func TestReloadRejectedKeepsServingLastGood(t *testing.T) {
	e := startEngine(t, authConfig)
	bad := strings.Replace(authConfig, "{key: good}", "{key: good, unknown: 1}", 1)
	if err := e.store.Apply([]byte(bad), "test.yaml"); err == nil || !strings.Contains(err.Error(), `parameter "unknown"`) {
		t.Fatalf("bad config: %v", err)
	}
	if resp := e.open(t).send(requestHeaders("orders", true)); resp.GetImmediateResponse().GetStatus().GetCode() != 401 {
		t.Fatalf("last good config not in force: %v", resp)
	}
	if n := e.metricValue(t, "policy_engine_config_reloads_total", "result=failed"); n != 1 {
		t.Errorf("failed reloads %v", n)
	}
	// A stream keeps the snapshot it started with; new streams get the new one.
	s := e.open(t)
	s.send(requestHeaders("orders", false, "x-api-key", "good"))
	if err := e.store.Apply([]byte("routes: []\nnoRouteAction: allow\n"), "test.yaml"); err != nil {
		t.Fatal(err)
	}
	if resp := s.send(responseHeaders("200", true)); resp.GetResponseHeaders() == nil {
		t.Errorf("old stream: %v", resp)
	}
	if resp := e.open(t).send(requestHeaders("orders", true)); resp.GetRequestHeaders() == nil {
		t.Fatalf("new config not in force: %v", resp)
	}
	if v := e.metricValue(t, "policy_engine_config_version"); v != 2 {
		t.Errorf("config version %v", v)
	}
}

func TestResponsePolicyFailureAnswers500(t *testing.T) {
	e := startEngine(t, `routes:
  - name: r
    policies:
      - {name: auth, version: v1.0.0, parameters: {key: good}}
      - {name: resp, version: v1.0.0, parameters: {status: 42}}
`)
	s := e.open(t)
	if resp := s.send(requestHeaders("r", true, "x-api-key", "good")); resp.GetRequestHeaders() == nil {
		t.Fatal(resp)
	}
	resp := s.send(responseHeaders("200", true))
	if resp.GetImmediateResponse().GetStatus().GetCode() != 500 {
		t.Fatalf("invalid status from a response policy: %v", resp)
	}
	if !strings.Contains(e.logs.String(), "outside 200-599") {
		t.Error("cause not logged")
	}
}

func TestWhenConditionOverTheStream(t *testing.T) {
	e := startEngine(t, `routes:
  - name: r
    policies:
      - name: edit
        version: v1.0.0
        when: '"x-tenant" in request.headers && request.headers["x-tenant"] == "a" && request.method == "GET"'
        parameters: {set: {x-plan: gold}}
      - name: resp
        version: v1.0.0
        when: 'response.status >= 500'
        parameters: {status: 503}
`)
	for tenant, want := range map[string]string{"a": "gold", "b": ""} {
		s := e.open(t)
		got := setHeaders(s.send(requestHeaders("r", true, "x-tenant", tenant)).GetRequestHeaders().GetResponse())
		if got["x-plan"] != want {
			t.Errorf("tenant %s: x-plan %q, want %q", tenant, got["x-plan"], want)
		}
		got = setHeaders(s.send(responseHeaders("502", true)).GetResponseHeaders().GetResponse())
		if got[":status"] != "503" || got["x-upstream-status"] != "502" {
			t.Errorf("response condition on a 502: %v", got)
		}
	}
	s := e.open(t)
	s.send(requestHeaders("r", true))
	resp := s.send(responseHeaders("200", true))
	if got := setHeaders(resp.GetResponseHeaders().GetResponse()); resp.GetResponseHeaders() == nil || len(got) != 0 {
		t.Errorf("response condition on a 200: %v", resp)
	}
}

func TestPhaseTimeoutBoundsTheWholeChain(t *testing.T) {
	e := startEngine(t, `routes:
  - name: r
    failOpen: true
    policies:
      - {name: fault, version: v1.0.0, timeout: 150ms, parameters: {do: slow}}
      - {name: fault, version: v1.0.0, timeout: 150ms, parameters: {do: slow}}
      - {name: edit, version: v1.0.0, parameters: {set: {x-after: ran}}}
phaseTimeout: 100ms
`)
	start := time.Now()
	resp := e.open(t).send(requestHeaders("r", true))
	if elapsed := time.Since(start); elapsed > 250*time.Millisecond {
		t.Errorf("answered after %v: the 100ms phase budget did not bound two 150ms policies", elapsed)
	}
	if resp.GetRequestHeaders() == nil {
		t.Fatalf("fail-open route: %v", resp)
	}
	if !strings.Contains(e.logs.String(), "phaseTimeout") {
		t.Error("the log does not name the phase budget as the cause")
	}
}
