//go:build envoy

package envoy

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
)

// The routes of the catalogue policies (cors, transformHeaders, transformJson,
// validateRequest, ipFilter, respond), each behind the real Envoy. %s is the JWKS URL
// of the jwtValidation that leaves the claims transformHeaders reads.
const catalogueConfig = `
routes:
  - name: cors
    policies:
      - name: cors
        version: v1.0.0
        parameters:
          allowOrigins: [https://app.example.com]
          allowOriginPatterns: ['https://[a-z0-9-]+\.preview\.example\.com']
          allowHeaders: [content-type]
          exposeHeaders: [x-total]
          allowCredentials: true
  - name: transform-headers
    policies:
      - {name: jwtValidation, version: v1.0.0, parameters: {jwksUrl: "%s"}}
      - name: transformHeaders
        version: v1.0.0
        parameters:
          request:
            set: {x-user: "${shared:jwtValidation.claims:sub}", x-tenant: "${shared:jwtValidation.claims:tenant}", x-caller: "${method} ${path} from ${client_ip}"}
            add: {x-via: policy-engine}
            remove: [authorization]
            rename: {x-old: x-new}
          response:
            set: {x-upstream-status: "${status}"}
  - name: transform-json
    policies:
      - name: transformJson
        version: v1.0.0
        parameters:
          nonJson: reject
          request:
            - {op: rename, from: /userName, path: /user/name}
            - {op: remove, path: /password}
            - {op: set, path: /meta/source, value: gateway}
          response:
            - {op: remove, path: /proto}
            - {op: set, path: /transformed, value: true}
  - name: validate-request
    policies:
      - name: validateRequest
        version: v1.0.0
        parameters:
          maxBodyBytes: 1024
          schema:
            type: object
            required: [id, qty]
            properties:
              id: {type: string}
              qty: {type: integer, minimum: 1}
  - name: ip-allow
    policies:
      - {name: ipFilter, version: v1.0.0, parameters: {allow: [127.0.0.0/8, "::1"]}}
  - name: ip-deny
    policies:
      - {name: ipFilter, version: v1.0.0, parameters: {deny: [127.0.0.0/8, "::1"]}}
  - name: ip-forwarded
    policies:
      - {name: ipFilter, version: v1.0.0, parameters: {allow: [203.0.113.0/24], trustedProxies: [127.0.0.0/8, "::1"]}}
  - name: respond
    policies:
      - name: respond
        version: v1.0.0
        parameters:
          status: 503
          headers: {content-type: application/json, retry-after: "600"}
          body: '{"error":"maintenance"}'
          condition: 'request.path.startsWith("/respond/maintenance")'
noRouteAction: deny
phaseTimeout: 5s
`

var catalogueRoutes = []string{"/cors=cors", "/transform-headers=transform-headers", "/transform-json=transform-json",
	"/validate-request=validate-request", "/ip-allow=ip-allow", "/ip-deny=ip-deny", "/ip-forwarded=ip-forwarded", "/respond=respond"}

func TestCataloguePoliciesThroughEnvoy(t *testing.T) {
	bin, _ := binaries(t)
	keys := newJWKS(t)
	config := filepath.Join(t.TempDir(), "engine.yaml")
	testproc.WriteFile(t, config, fmt.Sprintf(catalogueConfig, keys.srv.URL))
	e := startEngine(t, bin, "--config", config)
	s := envoyFor(t, config, []string{e.Extproc}, time.Second, catalogueRoutes...)
	count := func() int64 { return s.echo.Count() + s.other.Count() }

	t.Run("cors preflight answered by the engine", func(t *testing.T) {
		n := count()
		resp, body := testproc.Do(t, "OPTIONS", s.url+"/cors/items", nil, "origin", "https://pr-7.preview.example.com",
			"access-control-request-method", "PUT", "access-control-request-headers", "Content-Type")
		expect(t, s, "allowed preflight", resp, body, 204, false, n)
		for name, want := range map[string]string{
			"access-control-allow-origin":      "https://pr-7.preview.example.com",
			"access-control-allow-credentials": "true",
			"access-control-allow-headers":     "content-type",
			"access-control-max-age":           "600",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
		if !strings.Contains(resp.Header.Get("access-control-allow-methods"), "PUT") || !strings.Contains(resp.Header.Get("vary"), "Origin") {
			t.Errorf("preflight headers %v", resp.Header)
		}
		resp, body = testproc.Do(t, "OPTIONS", s.url+"/cors/items", nil, "origin", "https://evil.test", "access-control-request-method", "GET")
		expect(t, s, "refused preflight", resp, body, 403, false, n)
		if resp.Header.Get("access-control-allow-origin") != "" {
			t.Errorf("refused preflight carries allow-origin: %v", resp.Header)
		}
	})
	t.Run("cors headers on the actual response", func(t *testing.T) {
		n := count()
		resp, body := testproc.Do(t, "GET", s.url+"/cors/items", nil, "origin", "https://app.example.com")
		expect(t, s, "allowed origin", resp, body, 200, true, n)
		if resp.Header.Get("access-control-allow-origin") != "https://app.example.com" || resp.Header.Get("access-control-expose-headers") != "x-total" ||
			resp.Header.Get("access-control-allow-credentials") != "true" || !strings.Contains(strings.Join(resp.Header.Values("vary"), ","), "Origin") {
			t.Errorf("response headers %v", resp.Header)
		}
		resp, _ = testproc.Do(t, "GET", s.url+"/cors/items", nil, "origin", "https://evil.test")
		if resp.StatusCode != 200 || resp.Header.Get("access-control-allow-origin") != "" || !strings.Contains(strings.Join(resp.Header.Values("vary"), ","), "Origin") {
			t.Errorf("other origin: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("transformHeaders with a JWT claim from Shared", func(t *testing.T) {
		token := keys.token(t, map[string]any{"sub": "bob", "exp": time.Now().Add(time.Hour).Unix()})
		resp, body := testproc.Do(t, "GET", s.url+"/transform-headers/x?q=1", nil, "authorization", "Bearer "+token,
			"x-old", "legacy", "x-tenant", "forged", "x-echo-body", `{"ok":true}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if resp.Header.Get("x-upstream-status") != "200" {
			t.Errorf("response headers %v", resp.Header)
		}
		_, body = testproc.Do(t, "GET", s.url+"/transform-headers/x?q=1", nil, "authorization", "Bearer "+token, "x-old", "legacy", "x-tenant", "forged")
		got := seen(t, body)
		want := map[string]string{"x-user": "bob", "x-caller": "GET /transform-headers/x?q=1 from 127.0.0.1", "x-via": "policy-engine",
			"x-new": "legacy", "x-old": "", "authorization": "", "x-tenant": ""}
		for name, v := range want {
			if g := get(got.Headers, name); g != v {
				t.Errorf("upstream saw %s: %q, want %q", name, g, v)
			}
		}
	})
	t.Run("transformJson request and response bodies", func(t *testing.T) {
		resp, body := testproc.Do(t, "POST", s.url+"/transform-json", strings.NewReader(`{"userName":"ann","password":"s3cret","n":12345678901234567890}`),
			"content-type", "application/json")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var answer map[string]any
		if err := json.Unmarshal([]byte(body), &answer); err != nil {
			t.Fatalf("response not JSON: %v\n%s", err, body)
		}
		if answer["transformed"] != true || answer["proto"] != nil {
			t.Errorf("response body not transformed: %s", body)
		}
		if resp.ContentLength != int64(len(body)) {
			t.Errorf("response content-length %d for a %d-byte body", resp.ContentLength, len(body))
		}
		got := seen(t, body)
		if got.Body != `{"n":12345678901234567890,"user":{"name":"ann"},"meta":{"source":"gateway"}}` {
			t.Errorf("upstream saw body %s", got.Body)
		}
		if cl := get(got.Headers, "content-length"); cl != strconv.Itoa(len(got.Body)) {
			t.Errorf("upstream saw content-length %s for a %d-byte body", cl, len(got.Body))
		}
		n := count()
		resp, body = testproc.Do(t, "POST", s.url+"/transform-json", strings.NewReader("name=ann"), "content-type", "application/x-www-form-urlencoded")
		expect(t, s, "non-JSON request", resp, body, 415, false, n)
		resp, body = testproc.Do(t, "GET", s.url+"/transform-json", nil, "x-echo-body", "not json")
		if resp.StatusCode != 502 || !strings.Contains(resp.Header.Get("content-type"), "problem+json") {
			t.Errorf("non-JSON response: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("validateRequest", func(t *testing.T) {
		n := count()
		resp, body := testproc.Do(t, "POST", s.url+"/validate-request", strings.NewReader(`{"id":"a","qty":2}`), "content-type", "application/json")
		expect(t, s, "valid", resp, body, 200, true, n)
		n = count()
		resp, body = testproc.Do(t, "POST", s.url+"/validate-request", strings.NewReader(`{"id":7,"qty":0}`), "content-type", "application/json")
		expect(t, s, "invalid", resp, body, 400, false, n)
		if resp.Header.Get("content-type") != "application/problem+json" || !strings.Contains(body, `"location":"/id"`) || !strings.Contains(body, `"location":"/qty"`) {
			t.Errorf("problem: %s %s", resp.Header.Get("content-type"), body)
		}
		resp, body = testproc.Do(t, "POST", s.url+"/validate-request", strings.NewReader(`{"id":"`+strings.Repeat("x", 2000)+`","qty":1}`), "content-type", "application/json")
		expect(t, s, "too large", resp, body, 413, false, n)
		resp, body = testproc.Do(t, "POST", s.url+"/validate-request", strings.NewReader(`{"id":"a","qty":2}`), "content-type", "text/plain")
		expect(t, s, "not JSON", resp, body, 415, false, n)
	})
	t.Run("ipFilter", func(t *testing.T) {
		n := count()
		resp, body := testproc.Do(t, "GET", s.url+"/ip-allow", nil)
		expect(t, s, "allowed loopback", resp, body, 200, true, n)
		n = count()
		resp, body = testproc.Do(t, "GET", s.url+"/ip-deny", nil)
		expect(t, s, "denied loopback", resp, body, 403, false, n)
		// Loopback is the trusted proxy here, so X-Forwarded-For names the client.
		resp, body = testproc.Do(t, "GET", s.url+"/ip-forwarded", nil, "x-forwarded-for", "198.51.100.1")
		expect(t, s, "forwarded, not allowed", resp, body, 403, false, n)
		resp, body = testproc.Do(t, "GET", s.url+"/ip-forwarded", nil, "x-forwarded-for", "198.51.100.1, 203.0.113.9")
		expect(t, s, "forwarded, allowed", resp, body, 200, true, n)
	})
	t.Run("respond", func(t *testing.T) {
		n := count()
		resp, body := testproc.Do(t, "GET", s.url+"/respond/maintenance/x", nil)
		expect(t, s, "condition true", resp, body, 503, false, n)
		if body != `{"error":"maintenance"}` || resp.Header.Get("retry-after") != "600" || resp.Header.Get("content-type") != "application/json" {
			t.Errorf("canned response: %v %s", resp.Header, body)
		}
		resp, body = testproc.Do(t, "GET", s.url+"/respond/other", nil)
		expect(t, s, "condition false", resp, body, 200, true, n)
	})
}
