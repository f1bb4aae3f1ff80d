// Package jwtauthtest helps test policies built on jwtauth: test keys, their JWKs, a
// local identity provider serving a JWK Set, signed tokens, and the parameter checks
// every such policy's policy.yaml must make.
package jwtauthtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

// Keys are the signing keys tests use.
type Keys struct {
	// RSAA, RSAB and RSAOther are 2048-bit; RSAWeak is 1024-bit, too short to trust.
	RSAA, RSAB, RSAOther, RSAWeak *rsa.PrivateKey
	// EC is on P-256, ECP384 on P-384.
	EC, ECP384 *ecdsa.PrivateKey
}

var (
	keysOnce sync.Once
	keys     Keys
)

// TestKeys returns the test keys, generated once per test binary: RSA generation is
// slow under -race.
func TestKeys() *Keys {
	keysOnce.Do(func() {
		gen := func(bits int) *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			return k
		}
		keys.RSAA, keys.RSAB, keys.RSAOther, keys.RSAWeak = gen(2048), gen(2048), gen(2048), gen(1024)
		var err error
		if keys.EC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if keys.ECP384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return &keys
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// RSAJWK is the JWK of an RSA public key; alg pins its algorithm unless empty.
func RSAJWK(kid string, k *rsa.PublicKey, alg string) map[string]string {
	m := map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

// ECJWK is the JWK of an EC public key.
func ECJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	size := (k.Curve.Params().BitSize + 7) / 8
	pad := func(b []byte) []byte { return append(make([]byte, size-len(b)), b...) }
	return map[string]string{
		"kty": "EC", "kid": kid, "use": "sig", "crv": k.Curve.Params().Name,
		"x": b64(pad(k.X.Bytes())), "y": b64(pad(k.Y.Bytes())),
	}
}

// Server is a local identity provider whose key set tests can swap, counting fetches.
type Server struct {
	*httptest.Server
	mu     sync.Mutex
	keys   []map[string]string
	status int
	// Hits counts the JWKS fetches.
	Hits atomic.Int64
}

// NewServer serves keys until the test ends.
func NewServer(t *testing.T, keys ...map[string]string) *Server {
	t.Helper()
	s := &Server{keys: keys, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.Hits.Add(1)
		s.mu.Lock()
		status, body := s.status, map[string]interface{}{"keys": s.keys}
		s.mu.Unlock()
		if status != http.StatusOK {
			http.Error(w, "unavailable", status)
			return
		}
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// SetKeys replaces the served key set.
func (s *Server) SetKeys(keys ...map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// SetStatus makes every fetch answer status, without keys unless it is 200.
func (s *Server) SetStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

// Sign signs exactly the given claims, with kid in the header unless it is empty.
func Sign(t *testing.T, method jwt.SigningMethod, kid string, key interface{}, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

// ValidClaims are a subject issued now, expiring in an hour.
func ValidClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": "user-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// Request is a request on route r1 with the given headers.
func Request(headers map[string][]string) *policies.RequestContext {
	return &policies.RequestContext{
		Context: context.Background(),
		Route:   "r1",
		Headers: policies.NewHeaders(headers),
		Shared:  map[string]interface{}{},
	}
}

// Bearer is an authorization header carrying token.
func Bearer(token string) map[string][]string {
	return map[string][]string{"authorization": {"Bearer " + token}}
}

// ExpectDenied checks a is a 401 with the RFC 6750 invalid_token challenge (without
// realm) and description.
func ExpectDenied(t *testing.T, a *policies.RequestPolicyAction, description string) {
	t.Helper()
	if a == nil || a.Immediate == nil {
		t.Fatalf("want 401 %q, got continue", description)
	}
	if a.Immediate.Status != 401 {
		t.Fatalf("status %d, want 401", a.Immediate.Status)
	}
	want := `Bearer error="invalid_token", error_description="` + description + `"`
	if got := a.Immediate.Headers["www-authenticate"]; got != want {
		t.Fatalf("www-authenticate = %q, want %q", got, want)
	}
}

// CheckRejectedParams checks that the policy in dir refuses each bad value of the
// parameters jwtauth.Params declares, by its policy.yaml's schema or by
// jwtauth.ParseParams, with an error that names the parameter. valid holds the
// parameters the policy needs besides them. Nothing is fetched: the checks come before
// the JWKS.
func CheckRejectedParams(t *testing.T, dir string, factory policies.Factory, valid map[string]interface{}) {
	t.Helper()
	u := "https://idp.example.com/.well-known/jwks.json"
	with := func(kv ...interface{}) map[string]interface{} {
		m := map[string]interface{}{"jwksUrl": u}
		for k, v := range valid {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	withoutURL := with()
	delete(withoutURL, "jwksUrl")
	policytest.CheckRejected(t, dir, factory, []policytest.Rejection{
		{Name: "jwksUrl missing", Params: withoutURL, WantErr: `parameter "jwksUrl": required parameter missing`},
		{Name: "jwksUrl type", Params: with("jwksUrl", 5), WantErr: `parameter "jwksUrl": got number, want string`},
		{Name: "jwksUrl relative", Params: with("jwksUrl", "/jwks.json"), WantErr: `parameter "jwksUrl": '/jwks.json' is not valid uri`},
		{Name: "jwksUrl scheme", Params: with("jwksUrl", "ftp://idp/jwks"), WantErr: `parameter "jwksUrl": must be an absolute http(s) URL`},
		{Name: "jwksUrl credentials", Params: with("jwksUrl", "https://u:p@idp/jwks"), WantErr: "without credentials"},
		{Name: "none", Params: with("allowedAlgorithms", []interface{}{"none"}), WantErr: `parameter "allowedAlgorithms": "none" (unsigned tokens) is never accepted`},
		{Name: "HS256", Params: with("allowedAlgorithms", []interface{}{"RS256", "HS256"}), WantErr: `parameter "allowedAlgorithms": "HS256" is an HMAC algorithm`},
		{Name: "unknown alg", Params: with("allowedAlgorithms", []interface{}{"RS1"}), WantErr: `unsupported algorithm "RS1"`},
		{Name: "empty algs", Params: with("allowedAlgorithms", []interface{}{}), WantErr: "must name at least one algorithm"},
		{Name: "algs type", Params: with("allowedAlgorithms", "RS256"), WantErr: `parameter "allowedAlgorithms": got string, want array`},
		{Name: "skew too big", Params: with("clockSkew", "1h"), WantErr: `parameter "clockSkew": must be a duration between 0s and 5m0s, got 1h0m0s`},
		{Name: "skew negative", Params: with("clockSkew", "-1s"), WantErr: `parameter "clockSkew": must be a duration between 0s and 5m0s, got -1s`},
		{Name: "skew not string", Params: with("clockSkew", 30), WantErr: `parameter "clockSkew": got number, want string`},
		{Name: "skew not a duration", Params: with("clockSkew", "soon"), WantErr: `parameter "clockSkew": 'soon' is not valid go-duration`},
		{Name: "refresh too small", Params: with("refreshInterval", "10ms"), WantErr: `parameter "refreshInterval": must be a duration between 1s`},
		{Name: "minRefresh too big", Params: with("minRefreshInterval", "2h"), WantErr: `parameter "minRefreshInterval": must be a duration between 1s and 1h0m0s`},
		{Name: "fetchTimeout", Params: with("fetchTimeout", "1m"), WantErr: `parameter "fetchTimeout": must be a duration between 100ms and 30s`},
		{Name: "header", Params: with("header", "x token"), WantErr: `parameter "header": 'x token' does not match pattern`},
		{Name: "header empty", Params: with("header", ""), WantErr: `parameter "header": '' does not match pattern`},
		{Name: "requireExpiration", Params: with("requireExpiration", "yes"), WantErr: `parameter "requireExpiration": got string, want boolean`},
		{Name: "realm", Params: with("realm", `a"b`), WantErr: `parameter "realm": 'a"b' does not match pattern`},
		{Name: "unknown", Params: with("jwks", "x"), WantErr: `parameter "jwks": unknown parameter`},
	})
}

// CheckWiring checks that the policy in dir hands its jwtauth.Params to a verifier and
// shares what it verified. Built with valid plus a JWKS URL, the policy must admit a
// valid token and leave its claims in the request's Shared map under sharedKey, deny a
// token without exp (requireExpiration defaults to true) with details prefixed by its
// name, and honour header, realm and allowedAlgorithms. claims are added to every
// token, for the claims the policy itself requires.
func CheckWiring(t *testing.T, dir string, factory policies.Factory, valid map[string]interface{}, claims jwt.MapClaims, sharedKey string) {
	t.Helper()
	k := TestKeys()
	srv := NewServer(t, RSAJWK("a", &k.RSAA.PublicKey, "RS256"))
	build := func(kv ...interface{}) policies.RequestPolicy {
		params := map[string]interface{}{"jwksUrl": srv.URL}
		for name, v := range valid {
			params[name] = v
		}
		for i := 0; i < len(kv); i += 2 {
			params[kv[i].(string)] = kv[i+1]
		}
		return policytest.New(t, dir, factory, params).(policies.RequestPolicy)
	}
	sign := func(c jwt.MapClaims) string {
		for name, v := range claims {
			c[name] = v
		}
		return Sign(t, jwt.SigningMethodRS256, "a", k.RSAA, c)
	}

	p := build()
	r := Request(Bearer(sign(ValidClaims())))
	if a := p.ExecuteRequest(r, nil); a != nil {
		t.Fatalf("valid token: want admitted, got %+v", a.Immediate)
	}
	if shared, ok := r.Shared[sharedKey].(jwt.MapClaims); !ok || shared["sub"] != "user-1" {
		t.Fatalf("verified claims not shared under %q: %v", sharedKey, r.Shared)
	}
	a := p.ExecuteRequest(Request(Bearer(sign(jwt.MapClaims{"sub": "no-exp"}))), nil)
	ExpectDenied(t, a, "required claim missing")
	if want := p.Name() + ": required claim missing"; a.Immediate.Details != want {
		t.Fatalf("details = %q, want %q", a.Immediate.Details, want)
	}

	tok := sign(ValidClaims())
	p = build("header", "X-Token", "realm", "api", "allowedAlgorithms", []interface{}{"ES256"})
	a = p.ExecuteRequest(Request(Bearer(tok)), nil)
	if a == nil || a.Immediate.Headers["www-authenticate"] != `Bearer realm="api"` {
		t.Fatalf("token in authorization, policy reading x-token: want a challenge without error, got %+v", a)
	}
	a = p.ExecuteRequest(Request(map[string][]string{"x-token": {tok}}), nil)
	if a == nil || a.Immediate.Headers["www-authenticate"] != `Bearer realm="api", error="invalid_token", error_description="invalid signature or algorithm"` {
		t.Fatalf("RS256 token with only ES256 allowed: %+v", a)
	}
}
