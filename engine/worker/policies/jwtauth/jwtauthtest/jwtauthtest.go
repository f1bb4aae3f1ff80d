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
	"strings"
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
	tests := []struct {
		name    string
		params  map[string]interface{}
		wantErr string
	}{
		{"jwksUrl missing", withoutURL, `parameter "jwksUrl": required parameter missing`},
		{"jwksUrl type", with("jwksUrl", 5), `parameter "jwksUrl": got number, want string`},
		{"jwksUrl relative", with("jwksUrl", "/jwks.json"), `parameter "jwksUrl": '/jwks.json' is not valid uri`},
		{"jwksUrl scheme", with("jwksUrl", "ftp://idp/jwks"), `parameter "jwksUrl": must be an absolute http(s) URL`},
		{"jwksUrl credentials", with("jwksUrl", "https://u:p@idp/jwks"), "without credentials"},
		{"none", with("allowedAlgorithms", []interface{}{"none"}), `parameter "allowedAlgorithms": "none" (unsigned tokens) is never accepted`},
		{"HS256", with("allowedAlgorithms", []interface{}{"RS256", "HS256"}), `parameter "allowedAlgorithms": "HS256" is an HMAC algorithm`},
		{"unknown alg", with("allowedAlgorithms", []interface{}{"RS1"}), `unsupported algorithm "RS1"`},
		{"empty algs", with("allowedAlgorithms", []interface{}{}), "must name at least one algorithm"},
		{"algs type", with("allowedAlgorithms", "RS256"), `parameter "allowedAlgorithms": got string, want array`},
		{"skew too big", with("clockSkew", "1h"), `parameter "clockSkew": must be a duration between 0s and 5m0s, got 1h0m0s`},
		{"skew negative", with("clockSkew", "-1s"), `parameter "clockSkew": must be a duration between 0s and 5m0s, got -1s`},
		{"skew not string", with("clockSkew", 30), `parameter "clockSkew": got number, want string`},
		{"skew not a duration", with("clockSkew", "soon"), `parameter "clockSkew": 'soon' is not valid go-duration`},
		{"refresh too small", with("refreshInterval", "10ms"), `parameter "refreshInterval": must be a duration between 1s`},
		{"minRefresh too big", with("minRefreshInterval", "2h"), `parameter "minRefreshInterval": must be a duration between 1s and 1h0m0s`},
		{"fetchTimeout", with("fetchTimeout", "1m"), `parameter "fetchTimeout": must be a duration between 100ms and 30s`},
		{"header", with("header", "x token"), `parameter "header": 'x token' does not match pattern`},
		{"header empty", with("header", ""), `parameter "header": '' does not match pattern`},
		{"requireExpiration", with("requireExpiration", "yes"), `parameter "requireExpiration": got string, want boolean`},
		{"realm", with("realm", `a"b`), `parameter "realm": 'a"b' does not match pattern`},
		{"unknown", with("jwks", "x"), `parameter "jwks": unknown parameter`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policytest.Build(t, dir, factory, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
