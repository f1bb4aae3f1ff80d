//go:build envoy

package envoy

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
	"github.com/policy-engine-builder/policy-engine/sandbox"
)

// The routes of the shared stack: one per example policy (both jwtValidation
// versions), the test-only body, rewrite and fault policies, and one route with no
// chain. phaseTimeout is long so that a busy machine never turns a normal request
// into a timeout; testFault's sleep is cut by the policy's own 100ms deadline.
const policiesConfig = `
routes:
  - name: api-key
    policies:
      - {name: apiKey, version: v1.0.0, parameters: {keys: [k1], removeHeader: true}}
      - {name: setHeaders, version: v1.0.0, parameters: {headers: {x-policed: "yes"}}}
  - name: custom-auth
    policies:
      - name: customAuth
        version: v1.0.0
        parameters:
          users: {alice: "sha256:%s"}
          apiKeys: [{principal: svc, key: svc-key}]
  - name: rate-limit
    policies:
      - name: rateLimiting
        version: v1.0.0
        parameters: {requestsPerUnit: 2, unit: minute, keyBy: header, header: x-client, headersOnSuccess: true}
  - name: jwt-v1
    policies:
      - {name: jwtValidation, version: v1.0.0, parameters: {jwksUrl: "%[2]s"}}
  - name: jwt-v2
    policies:
      - name: jwtValidation
        version: v2.0.0
        parameters: {jwksUrl: "%[2]s", issuer: e2e, audience: [envoy], claimHeaders: {sub: x-subject}}
  - name: request-body
    policies:
      - {name: testRequestBody, version: v1.0.0}
  - name: response-body
    policies:
      - {name: testResponseBody, version: v1.0.0, parameters: {status: 203}}
  - name: rewrite
    policies:
      - {name: testRewrite, version: v1.0.0, parameters: {path: /moved/here, method: PUT}}
  - name: fail-closed
    policies:
      - {name: testFault, version: v1.0.0, parameters: {secret: ` + panicCanary + `}}
  - name: fail-open
    failOpen: true
    policies:
      - {name: testFault, version: v1.0.0}
      - {name: setHeaders, version: v1.0.0, parameters: {headers: {x-after-fault: "yes"}}}
noRouteAction: deny
phaseTimeout: 5s
mutationRules: {allowAllRouting: true}
`

// panicCanary is the sensitive parameter testFault quotes when it panics: the panic
// report must not carry it.
const panicCanary = "canary-panic-7c2d9e41"

var policyRoutes = []string{"/api-key=api-key", "/custom-auth=custom-auth", "/rate-limit=rate-limit",
	"/jwt-v1=jwt-v1", "/jwt-v2=jwt-v2", "/request-body=request-body", "/response-body=response-body",
	"/rewrite=rewrite", "/moved=moved=OTHER", "/fail-closed=fail-closed", "/fail-open=fail-open",
	"/unpoliced=unpoliced"}

// jwks serves one RSA key and signs tokens with it.
type jwks struct {
	key *rsa.PrivateKey
	srv *httptest.Server
}

func newJWKS(t *testing.T) *jwks {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	j := &jwks{key: key}
	b64 := base64.RawURLEncoding.EncodeToString
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jwks) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	signing := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, j.key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

// seen decodes what the echo upstream reports having received.
func seen(t *testing.T, body string) sandbox.Seen {
	t.Helper()
	var s sandbox.Seen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("not an echo answer: %v\n%s", err, body)
	}
	return s
}

func get(h map[string][]string, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// expect checks status and that the request did (or did not) reach the upstream.
func expect(t *testing.T, s *stack, what string, resp *http.Response, body string, status int, reached bool, before int64) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d\n%s", what, resp.StatusCode, status, body)
	}
	if got := s.echo.Count()+s.other.Count() > before; got != reached {
		t.Errorf("%s: reached the upstream = %v, want %v", what, got, reached)
	}
}

func TestPoliciesThroughEnvoy(t *testing.T) {
	bin, _ := binaries(t)
	keys := newJWKS(t)
	password := sha256.Sum256([]byte("wonderland"))
	config := filepath.Join(t.TempDir(), "engine.yaml")
	testproc.WriteFile(t, config, fmt.Sprintf(policiesConfig, hex.EncodeToString(password[:]), keys.srv.URL))
	e := startEngine(t, bin, "--config", config)
	s := envoyFor(t, config, []string{e.Extproc}, time.Second, policyRoutes...)
	count := func() int64 { return s.echo.Count() + s.other.Count() }

	t.Run("apiKey and setHeaders", func(t *testing.T) {
		n := count()
		resp, body := testproc.Do(t, "GET", s.url+"/api-key/x", nil)
		expect(t, s, "no key", resp, body, 401, false, n)
		if resp.Header.Get("www-authenticate") == "" {
			t.Error("401 without www-authenticate: immediate response headers lost")
		}
		resp, body = testproc.Do(t, "GET", s.url+"/api-key/x", nil, "x-api-key", "k1", "x-policed", "forged")
		expect(t, s, "valid key", resp, body, 200, true, n)
		got := seen(t, body)
		if get(got.Headers, "x-api-key") != "" || get(got.Headers, "x-policed") != "yes" {
			t.Errorf("upstream saw %v: want the key removed and x-policed: yes", got.Headers)
		}
	})
	t.Run("customAuth", func(t *testing.T) {
		n := count()
		resp, body := testproc.Do(t, "GET", s.url+"/custom-auth", nil)
		expect(t, s, "no credentials", resp, body, 401, false, n)
		if !strings.Contains(resp.Header.Get("www-authenticate"), "Basic") {
			t.Errorf("challenge %q", resp.Header.Get("www-authenticate"))
		}
		req, _ := http.NewRequest("GET", s.url+"/custom-auth", nil)
		req.SetBasicAuth("alice", "wonderland")
		resp, body = testproc.Do(t, "GET", s.url+"/custom-auth", nil, "authorization", req.Header.Get("authorization"))
		expect(t, s, "basic auth", resp, body, 200, true, n)
		if got := seen(t, body); get(got.Headers, "x-auth-principal") != "alice" || get(got.Headers, "authorization") != "" {
			t.Errorf("upstream saw %v: want principal alice, credentials stripped", got.Headers)
		}
		_, body = testproc.Do(t, "GET", s.url+"/custom-auth", nil, "x-api-key", "svc-key")
		if got := seen(t, body); get(got.Headers, "x-auth-principal") != "svc" {
			t.Errorf("api key: upstream saw %v", got.Headers)
		}
	})
	t.Run("rateLimiting", func(t *testing.T) {
		for i := range 2 {
			resp, body := testproc.Do(t, "GET", s.url+"/rate-limit", nil, "x-client", "c1")
			if resp.StatusCode != 200 || resp.Header.Get("x-ratelimit-limit") != "2" {
				t.Fatalf("request %d: %d, x-ratelimit-limit %q (response phase headers)\n%s", i, resp.StatusCode, resp.Header.Get("x-ratelimit-limit"), body)
			}
		}
		n := count()
		resp, body := testproc.Do(t, "GET", s.url+"/rate-limit", nil, "x-client", "c1")
		expect(t, s, "third request", resp, body, 429, false, n)
		if resp.Header.Get("retry-after") == "" || resp.Header.Get("x-ratelimit-remaining") != "0" {
			t.Errorf("429 headers: %v", resp.Header)
		}
		if resp, _ := testproc.Do(t, "GET", s.url+"/rate-limit", nil, "x-client", "c2"); resp.StatusCode != 200 {
			t.Errorf("another client: %d", resp.StatusCode)
		}
	})
	t.Run("jwtValidation v1 and v2", func(t *testing.T) {
		exp := time.Now().Add(time.Hour).Unix()
		good := keys.token(t, map[string]any{"sub": "bob", "iss": "e2e", "aud": "envoy", "exp": exp})
		wrongAud := keys.token(t, map[string]any{"sub": "bob", "iss": "e2e", "aud": "other", "exp": exp})
		n := count()
		resp, body := testproc.Do(t, "GET", s.url+"/jwt-v1", nil, "authorization", "Bearer not.a.token")
		expect(t, s, "v1 bad token", resp, body, 401, false, n)
		resp, body = testproc.Do(t, "GET", s.url+"/jwt-v1", nil, "authorization", "Bearer "+wrongAud)
		expect(t, s, "v1 valid signature", resp, body, 200, true, n)
		n = count()
		resp, body = testproc.Do(t, "GET", s.url+"/jwt-v2", nil, "authorization", "Bearer "+wrongAud)
		expect(t, s, "v2 wrong audience", resp, body, 401, false, n)
		resp, body = testproc.Do(t, "GET", s.url+"/jwt-v2", nil, "authorization", "Bearer "+good)
		expect(t, s, "v2 valid", resp, body, 200, true, n)
		if got := seen(t, body); get(got.Headers, "x-subject") != "bob" {
			t.Errorf("claim header: upstream saw %v", got.Headers)
		}
	})
	t.Run("request body read and replaced", func(t *testing.T) {
		n := count()
		resp, body := testproc.Do(t, "POST", s.url+"/request-body", strings.NewReader("hello"))
		expect(t, s, "body", resp, body, 200, true, n)
		got := seen(t, body)
		if got.Body != "checked:hello" || get(got.Headers, "content-length") != "13" || get(got.Headers, "x-original-length") != "5" {
			t.Errorf("upstream saw body %q, headers %v", got.Body, got.Headers)
		}
		n = count()
		resp, body = testproc.Do(t, "POST", s.url+"/request-body", strings.NewReader("a forbidden body"))
		expect(t, s, "denied body", resp, body, 403, false, n)
		if resp.Header.Get("x-denied-by") != "testRequestBody" {
			t.Errorf("immediate response headers: %v", resp.Header)
		}
	})
	t.Run("chunked request body", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			for _, part := range []string{"one,", "two,", "three"} {
				_, _ = pw.Write([]byte(part))
				time.Sleep(20 * time.Millisecond)
			}
			pw.Close()
		}()
		resp, body := testproc.Do(t, "POST", s.url+"/request-body", pr)
		if got := seen(t, body); resp.StatusCode != 200 || got.Body != "checked:one,two,three" || get(got.Headers, "content-length") != "21" {
			t.Errorf("chunked: %d, upstream saw %q %v", resp.StatusCode, got.Body, got.Headers)
		}
	})
	t.Run("bodies at and over the engine's limit", func(t *testing.T) {
		// Above Envoy's default 1 MiB buffer, so the route's own limit is in force.
		big := bytes.Repeat([]byte("x"), 2<<20)
		resp, body := testproc.Do(t, "POST", s.url+"/request-body", bytes.NewReader(big))
		if resp.StatusCode != 200 || len(seen(t, body).Body) != len("checked:")+len(big) {
			t.Errorf("2 MiB body: %d", resp.StatusCode)
		}
		n := count()
		resp, body = testproc.Do(t, "POST", s.url+"/request-body", bytes.NewReader(make([]byte, 8<<20+1)))
		expect(t, s, "body over 8 MiB", resp, body, 413, false, n)
	})
	t.Run("response body and status changed", func(t *testing.T) {
		resp, body := testproc.Do(t, "GET", s.url+"/response-body", nil, "x-echo-body", "from upstream", "x-echo-status", "201")
		if resp.StatusCode != 203 || body != "wrapped:from upstream" || resp.Header.Get("x-upstream-status") != "201" {
			t.Errorf("got %d %q %v", resp.StatusCode, body, resp.Header)
		}
		if resp.ContentLength != int64(len(body)) {
			t.Errorf("content-length %d for a %d-byte body", resp.ContentLength, len(body))
		}
	})
	t.Run("path and method rewrite recompute the route", func(t *testing.T) {
		n := s.other.Count()
		resp, body := testproc.Do(t, "GET", s.url+"/rewrite/x", nil)
		if got := seen(t, body); resp.StatusCode != 200 || got.Upstream != "other" || got.Path != "/moved/here" || got.Method != "PUT" {
			t.Errorf("got %d: %s %s at %s, want PUT /moved/here at the other upstream", resp.StatusCode, got.Method, got.Path, got.Upstream)
		}
		if s.other.Count() != n+1 {
			t.Error("the rewritten request did not reach the route's upstream")
		}
	})
	t.Run("fail closed", func(t *testing.T) {
		for _, fault := range []string{"panic", "sleep"} {
			n := count()
			resp, body := testproc.Do(t, "GET", s.url+"/fail-closed", nil, "x-fault", fault)
			expect(t, s, fault, resp, body, 500, false, n)
			if strings.Contains(body, panicCanary) {
				t.Errorf("%s: the error response shows the sensitive parameter", fault)
			}
			if id := resp.Header.Get("x-policy-engine-error-id"); id == "" || !strings.Contains(body, id) {
				t.Errorf("%s: error id header %q, body %q", fault, id, body)
			}
		}
		logs := e.Log.String()
		if !strings.Contains(logs, "testFault: panic on request") {
			t.Fatalf("the panic was not reported in the engine's log:\n%s", logs)
		}
		for what, text := range map[string]string{"engine log": logs, "Envoy log": s.envoy.Log.String()} {
			if strings.Contains(text, panicCanary) {
				t.Errorf("the %s shows the sensitive parameter the panic quoted", what)
			}
		}
	})
	t.Run("fail open", func(t *testing.T) {
		for _, fault := range []string{"panic", "sleep"} {
			n := count()
			resp, body := testproc.Do(t, "GET", s.url+"/fail-open", nil, "x-fault", fault)
			expect(t, s, fault, resp, body, 200, true, n)
			if got := seen(t, body); get(got.Headers, "x-after-fault") != "yes" {
				t.Errorf("%s: the chain did not go on after the failed policy: %v", fault, got.Headers)
			}
		}
	})
	t.Run("no chain is denied", func(t *testing.T) {
		n := count()
		for _, m := range []string{"GET", "POST"} {
			resp, body := testproc.Do(t, m, s.url+"/unpoliced/x", strings.NewReader("body"))
			expect(t, s, m, resp, body, 403, false, n)
		}
	})
	t.Run("HTTP/2 downstream", func(t *testing.T) {
		protocols := new(http.Protocols)
		protocols.SetUnencryptedHTTP2(true)
		client := &http.Client{Transport: &http.Transport{Protocols: protocols}, Timeout: 30 * time.Second}
		for _, c := range []struct {
			key    string
			status int
		}{{"k1", 200}, {"wrong", 401}} {
			req, _ := http.NewRequest("GET", s.url+"/api-key/h2", nil)
			req.Header.Set("x-api-key", c.key)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.StatusCode != c.status {
				t.Errorf("key %s: %s %d, want HTTP/2 %d", c.key, resp.Proto, resp.StatusCode, c.status)
			}
		}
	})
	t.Run("trailers", func(t *testing.T) {
		for _, h2 := range []bool{false, true} {
			protocols := new(http.Protocols)
			protocols.SetHTTP1(!h2)
			protocols.SetUnencryptedHTTP2(h2)
			client := &http.Client{Transport: &http.Transport{Protocols: protocols}, Timeout: 30 * time.Second}
			send := func(path string) (*http.Response, sandbox.Seen) {
				req, _ := http.NewRequest("POST", s.url+path, io.MultiReader(strings.NewReader("with trailers")))
				req.ContentLength = -1
				req.Trailer = http.Header{"X-Checksum": {"abc"}}
				req.Header.Set("x-api-key", "k1")
				req.Header.Set("x-echo-trailer", "x-done=yes")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp, seen(t, string(b))
			}
			// Through a headers-only chain, trailers pass both ways.
			resp, got := send("/api-key/t")
			if resp.StatusCode != 200 || get(got.Trailers, "x-checksum") != "abc" || resp.Trailer.Get("x-done") != "yes" {
				t.Errorf("h2=%v: %d, request trailers at the upstream %v, response trailers %v", h2, resp.StatusCode, got.Trailers, resp.Trailer)
			}
			// A body policy runs on a request with trailers: the body arrives whole,
			// with end_of_stream false because trailers follow.
			resp, got = send("/request-body")
			if resp.StatusCode != 200 || got.Body != "checked:with trailers" {
				t.Errorf("h2=%v: %d, upstream saw %q: the body policy must run on a request with trailers", h2, resp.StatusCode, got.Body)
			}
		}
	})
}
