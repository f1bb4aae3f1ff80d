package customauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func bcryptHash(t testing.TB, password string) string {
	t.Helper()
	// MinCost keeps the tests fast; production hashes use cost 10 or so.
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func request(headers map[string][]string) *policies.RequestContext {
	return &policies.RequestContext{Context: context.Background(), Headers: policies.NewHeaders(headers)}
}

func fullParams(t testing.TB) map[string]interface{} {
	return map[string]interface{}{
		"realm": "internal",
		"users": map[string]interface{}{
			"alice": bcryptHash(t, "wonderland"),
			"bob":   "sha256:" + sha256Hex("builder"),
		},
		"apiKeys": []interface{}{
			map[string]interface{}{"principal": "ci-bot", "key": "ci-key-1"},
			map[string]interface{}{"principal": "ci-bot", "sha256": sha256Hex("ci-key-2")},
			map[string]interface{}{"principal": "partner", "key": "partner-key"},
		},
	}
}

func newPolicy(t testing.TB, params map[string]interface{}) *Policy {
	t.Helper()
	return policytest.New(t, ".", GetPolicy, params).(*Policy)
}

func TestAuthentication(t *testing.T) {
	p := newPolicy(t, fullParams(t))
	tests := []struct {
		name          string
		headers       map[string][]string
		wantPrincipal string // "" means denied
		wantStatus    int
		wantBody      string
		wantRemoved   string
	}{
		{name: "bcrypt user", headers: map[string][]string{"authorization": {basic("alice", "wonderland")}}, wantPrincipal: "alice", wantRemoved: "authorization"},
		{name: "sha256 user", headers: map[string][]string{"authorization": {basic("bob", "builder")}}, wantPrincipal: "bob", wantRemoved: "authorization"},
		{name: "scheme case-insensitive", headers: map[string][]string{"authorization": {"bAsIc " + base64.StdEncoding.EncodeToString([]byte("bob:builder"))}}, wantPrincipal: "bob", wantRemoved: "authorization"},
		{name: "password with colon", headers: map[string][]string{"authorization": {basic("alice", "wonder:land")}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "plain api key", headers: map[string][]string{"x-api-key": {"ci-key-1"}}, wantPrincipal: "ci-bot", wantRemoved: "x-api-key"},
		{name: "hashed api key", headers: map[string][]string{"x-api-key": {"ci-key-2"}}, wantPrincipal: "ci-bot", wantRemoved: "x-api-key"},
		{name: "last api key", headers: map[string][]string{"x-api-key": {"partner-key"}}, wantPrincipal: "partner", wantRemoved: "x-api-key"},
		{name: "client-sent principal is replaced", headers: map[string][]string{"x-api-key": {"partner-key"}, "x-auth-principal": {"admin"}}, wantPrincipal: "partner", wantRemoved: "x-api-key"},
		{name: "wrong bcrypt password", headers: map[string][]string{"authorization": {basic("alice", "wonderlans")}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "wrong sha256 password", headers: map[string][]string{"authorization": {basic("bob", "Builder")}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "unknown user", headers: map[string][]string{"authorization": {basic("mallory", "wonderland")}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "empty user", headers: map[string][]string{"authorization": {basic("", "x")}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "no colon", headers: map[string][]string{"authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "bad base64", headers: map[string][]string{"authorization": {"Basic !!!"}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "two authorization headers", headers: map[string][]string{"authorization": {basic("bob", "builder"), basic("alice", "wonderland")}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "wrong api key", headers: map[string][]string{"x-api-key": {"ci-key-3"}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "two api keys", headers: map[string][]string{"x-api-key": {"ci-key-1", "partner-key"}}, wantStatus: 401, wantBody: "invalid credentials"},
		{name: "both credentials", headers: map[string][]string{"x-api-key": {"ci-key-1"}, "authorization": {basic("bob", "builder")}}, wantStatus: 401, wantBody: "conflicting credentials"},
		{name: "nothing", headers: map[string][]string{}, wantStatus: 401, wantBody: "missing credentials"},
		{name: "bearer token is not basic", headers: map[string][]string{"authorization": {"Bearer abc"}}, wantStatus: 401, wantBody: "missing credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			action := p.ExecuteRequest(request(tc.headers), nil)
			if action == nil {
				t.Fatal("nil action: customAuth must always decide")
			}
			if tc.wantPrincipal == "" {
				im := action.Immediate
				if im == nil {
					t.Fatalf("want %d, got continue %+v", tc.wantStatus, action.Headers)
				}
				if im.Status != tc.wantStatus || !strings.HasPrefix(string(im.Body), tc.wantBody) {
					t.Fatalf("got %d %q, want %d %q", im.Status, im.Body, tc.wantStatus, tc.wantBody)
				}
				want := `Basic realm="internal", charset="UTF-8", APIKey realm="internal", header="x-api-key"`
				if got := im.Headers["www-authenticate"]; got != want {
					t.Fatalf("www-authenticate = %q, want %q", got, want)
				}
				return
			}
			if action.Immediate != nil {
				t.Fatalf("want continue, got %d %q", action.Immediate.Status, action.Immediate.Body)
			}
			if got := action.Headers.Set["x-auth-principal"]; got != tc.wantPrincipal {
				t.Fatalf("principal = %q, want %q", got, tc.wantPrincipal)
			}
			if len(action.Headers.Remove) != 1 || action.Headers.Remove[0] != tc.wantRemoved {
				t.Fatalf("Remove = %v, want [%s]", action.Headers.Remove, tc.wantRemoved)
			}
		})
	}
}

func TestOnlyConfiguredSchemesAreConsidered(t *testing.T) {
	// With API keys only, basic credentials are someone else's business.
	p := newPolicy(t, map[string]interface{}{
		"apiKeys":          []interface{}{map[string]interface{}{"principal": "svc", "key": "k1"}},
		"apiKeyHeader":     "X-Service-Key",
		"principalHeader":  "X-Caller",
		"stripCredentials": false,
	})
	action := p.ExecuteRequest(request(map[string][]string{
		"x-service-key": {"k1"},
		"authorization": {basic("alice", "wonderland")},
	}), nil)
	if action.Immediate != nil {
		t.Fatalf("denied: %q", action.Immediate.Body)
	}
	if action.Headers.Set["x-caller"] != "svc" || len(action.Headers.Remove) != 0 {
		t.Fatalf("unexpected changes %+v", action.Headers)
	}
	denied := p.ExecuteRequest(request(map[string][]string{"authorization": {basic("alice", "wonderland")}}), nil)
	if denied.Immediate == nil || denied.Immediate.Headers["www-authenticate"] != `APIKey realm="restricted", header="x-service-key"` {
		t.Fatalf("want APIKey-only challenge, got %+v", denied.Immediate)
	}

	// With users only, an API key header is ignored.
	p = newPolicy(t, map[string]interface{}{"users": map[string]interface{}{"bob": "sha256:" + sha256Hex("builder")}})
	denied = p.ExecuteRequest(request(map[string][]string{"x-api-key": {"k1"}}), nil)
	if denied.Immediate == nil || denied.Immediate.Headers["www-authenticate"] != `Basic realm="restricted", charset="UTF-8"` {
		t.Fatalf("want Basic-only challenge, got %+v", denied.Immediate)
	}
}

func TestBcryptCache(t *testing.T) {
	p := newPolicy(t, fullParams(t))
	good := request(map[string][]string{"authorization": {basic("alice", "wonderland")}})
	if a := p.ExecuteRequest(good, nil); a.Immediate != nil {
		t.Fatal("first request denied")
	}
	if n := p.cache.len(); n != 1 {
		t.Fatalf("cache holds %d entries after one success, want 1", n)
	}
	// A cached success must not let a different password through.
	bad := request(map[string][]string{"authorization": {basic("alice", "wonderlan")}})
	if a := p.ExecuteRequest(bad, nil); a.Immediate == nil {
		t.Fatal("wrong password accepted after a cached success")
	}
	if n := p.cache.len(); n != 1 {
		t.Fatalf("failures must not be cached; cache holds %d", n)
	}
	if a := p.ExecuteRequest(good, nil); a.Immediate != nil {
		t.Fatal("cached credentials denied")
	}
}

func TestVerifiedCacheExpiryAndBound(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newVerifiedCache(time.Minute, 3)
	c.now = func() time.Time { return now }
	k1, k2 := c.key("a", "1"), c.key("a", "2")
	if k1 == k2 || k1 == c.key("a1", "") {
		t.Fatal("keys must differ for different credentials")
	}
	c.add(k1)
	if !c.contains(k1) || c.contains(k2) {
		t.Fatal("contains is wrong")
	}
	now = now.Add(time.Minute)
	if c.contains(k1) {
		t.Fatal("entry outlived its TTL")
	}
	for i := 0; i < 10; i++ {
		c.add(c.key("u", string(rune('a'+i))))
		if c.len() > 3 {
			t.Fatalf("cache grew to %d, bound is 3", c.len())
		}
	}
	// When full, expired entries go first and the fresh ones stay.
	c.add(c.key("x", "1"))
	c.add(c.key("x", "2"))
	now = now.Add(2 * time.Minute)
	c.add(c.key("x", "3"))
	if !c.contains(c.key("x", "3")) || c.len() != 1 {
		t.Fatalf("expected only the new entry after sweeping expired ones; len=%d", c.len())
	}
}

func TestDeadlineWhileWaitingForBcrypt(t *testing.T) {
	p := newPolicy(t, fullParams(t))
	// Occupy every slot, as a burst of basic-auth requests would.
	for i := 0; i < cap(p.bcryptSlots); i++ {
		p.bcryptSlots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req := request(map[string][]string{"authorization": {basic("alice", "wonderland")}})
	req.Context = ctx
	action := p.ExecuteRequest(req, nil)
	if action.Immediate == nil || action.Immediate.Status != 503 {
		t.Fatalf("want 503 when the deadline passes, got %+v", action)
	}
	// SHA-256 users and API keys do not need a slot.
	req = request(map[string][]string{"authorization": {basic("bob", "builder")}})
	req.Context = ctx
	if a := p.ExecuteRequest(req, nil); a.Immediate != nil {
		t.Fatalf("sha256 user denied: %q", a.Immediate.Body)
	}
}

// TestRejectedParameters builds instances the way the engine does, so each bad
// parameter is refused by policy.yaml's schema or by parseConfig, and the error
// names it either way.
func TestRejectedParameters(t *testing.T) {
	cost13 := strings.Replace(bcryptHash(t, "x"), "$04$", "$13$", 1)
	key := func(fields map[string]interface{}) map[string]interface{} {
		return map[string]interface{}{"apiKeys": []interface{}{fields}}
	}
	users := func(name string, hash interface{}) map[string]interface{} {
		return map[string]interface{}{"users": map[string]interface{}{name: hash}}
	}
	withKey := func(extra map[string]interface{}) map[string]interface{} {
		m := map[string]interface{}{"apiKeys": []interface{}{map[string]interface{}{"principal": "p", "key": "k"}}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Name: "nothing configured", Params: map[string]interface{}{}, WantErr: "configure at least one API key or user"},
		{Name: "unknown", Params: withKey(map[string]interface{}{"user": 1}), WantErr: `parameter "user": unknown parameter`},
		{Name: "apiKeys type", Params: map[string]interface{}{"apiKeys": "k"}, WantErr: `parameter "apiKeys": got string, want array`},
		{Name: "apiKeys item type", Params: map[string]interface{}{"apiKeys": []interface{}{"k"}}, WantErr: `parameter "apiKeys": at /0: got string, want object`},
		{Name: "no principal", Params: key(map[string]interface{}{"key": "k"}), WantErr: `"principal" must be a non-empty string`},
		{Name: "principal with newline", Params: key(map[string]interface{}{"principal": "a\nb", "key": "k"}), WantErr: "principal: contains control character"},
		{Name: "neither key nor sha", Params: key(map[string]interface{}{"principal": "p"}), WantErr: `give exactly one of "key" and "sha256"`},
		{Name: "both key and sha", Params: key(map[string]interface{}{"principal": "p", "key": "k", "sha256": sha256Hex("k")}), WantErr: "give exactly one"},
		{Name: "empty key", Params: key(map[string]interface{}{"principal": "p", "key": ""}), WantErr: `"key" must be a non-empty string`},
		{Name: "bad sha", Params: key(map[string]interface{}{"principal": "p", "sha256": "abc"}), WantErr: "must be 64 hex digits"},
		{Name: "unknown key field", Params: key(map[string]interface{}{"principal": "p", "key": "k", "secret": "x"}), WantErr: `parameter "apiKeys": at [0].secret: unknown field`},
		{Name: "duplicate key", Params: map[string]interface{}{"apiKeys": []interface{}{
			map[string]interface{}{"principal": "a", "key": "k"},
			map[string]interface{}{"principal": "b", "sha256": sha256Hex("k")},
		}}, WantErr: `same key as principal "a"`},
		{Name: "users type", Params: map[string]interface{}{"users": []interface{}{}}, WantErr: `parameter "users": got array, want object`},
		{Name: "plain password", Params: users("alice", "wonderland"), WantErr: "plain-text passwords are not accepted"},
		{Name: "hash not string", Params: users("alice", 5), WantErr: `parameter "users": at [alice]: expected type 'string'`},
		{Name: "bad sha user", Params: users("alice", "sha256:zz"), WantErr: "must be 64 hex digits"},
		{Name: "colon in user", Params: users("a:b", "sha256:"+sha256Hex("x")), WantErr: "must not contain ':'"},
		{Name: "bcrypt too costly", Params: users("alice", cost13), WantErr: "bcrypt cost 13 is above 12"},
		{Name: "bcrypt truncated", Params: users("alice", bcryptHash(t, "x")[:50]), WantErr: "malformed bcrypt hash"},
		{Name: "realm quote", Params: withKey(map[string]interface{}{"realm": `a"b`}), WantErr: `parameter "realm": 'a"b' does not match pattern`},
		{Name: "realm backslash", Params: withKey(map[string]interface{}{"realm": `a\b`}), WantErr: `parameter "realm": 'a\\b' does not match pattern`},
		{Name: "realm control character", Params: withKey(map[string]interface{}{"realm": "a\x7fb"}), WantErr: `parameter "realm": 'a\x7fb' does not match pattern`},
		{Name: "realm type", Params: withKey(map[string]interface{}{"realm": 1}), WantErr: `parameter "realm": got number, want string`},
		{Name: "realm empty", Params: withKey(map[string]interface{}{"realm": ""}), WantErr: `parameter "realm": '' does not match pattern`},
		{Name: "realm long", Params: withKey(map[string]interface{}{"realm": strings.Repeat("r", 129)}), WantErr: `parameter "realm": maxLength: got 129, want 128`},
		{Name: "apiKeyHeader bad", Params: withKey(map[string]interface{}{"apiKeyHeader": "x key"}), WantErr: `parameter "apiKeyHeader": 'x key' does not match pattern`},
		{Name: "principalHeader empty", Params: withKey(map[string]interface{}{"principalHeader": ""}), WantErr: `parameter "principalHeader": '' does not match pattern`},
		{Name: "principalHeader credential", Params: withKey(map[string]interface{}{"principalHeader": "Authorization"}), WantErr: `"principalHeader": "authorization" is a credential header`},
		{Name: "principalHeader envoy", Params: withKey(map[string]interface{}{"principalHeader": "x-envoy-user"}), WantErr: `parameter "principalHeader": Envoy ignores changes`},
		{Name: "apiKeyHeader host", Params: withKey(map[string]interface{}{"apiKeyHeader": "Host"}), WantErr: `parameter "apiKeyHeader": Envoy ignores changes to "host"`},
		{Name: "stripCredentials type", Params: withKey(map[string]interface{}{"stripCredentials": "no"}), WantErr: `parameter "stripCredentials": got string, want boolean`},
	})
}

func TestConcurrentUse(t *testing.T) {
	p := newPolicy(t, fullParams(t))
	creds := []struct {
		header, value string
		ok            bool
	}{
		{"authorization", basic("alice", "wonderland"), true},
		{"authorization", basic("alice", "nope"), false},
		{"authorization", basic("bob", "builder"), true},
		{"x-api-key", "partner-key", true},
		{"x-api-key", "nope", false},
	}
	policytest.Concurrently(t, 40, 1, func(i int) error {
		c := creds[i%len(creds)]
		a := p.ExecuteRequest(request(map[string][]string{c.header: {c.value}}), nil)
		if (a.Immediate == nil) != c.ok {
			return errors.New("wrong decision for " + c.value)
		}
		return nil
	})
}
