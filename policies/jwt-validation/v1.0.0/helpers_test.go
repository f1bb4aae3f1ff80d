package jwtvalidation

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

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

// Keys are generated once per test binary: RSA generation is slow under -race.
var (
	keysOnce                      sync.Once
	rsaA, rsaB, rsaOther, rsaWeak *rsa.PrivateKey
	ecA                           *ecdsa.PrivateKey
	ecP384                        *ecdsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		gen := func(bits int) *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			return k
		}
		rsaA, rsaB, rsaOther, rsaWeak = gen(2048), gen(2048), gen(2048), gen(1024)
		var err error
		if ecA, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if ecP384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
	})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey, alg string) map[string]string {
	m := map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	size := (k.Curve.Params().BitSize + 7) / 8
	pad := func(b []byte) []byte { return append(make([]byte, size-len(b)), b...) }
	return map[string]string{
		"kty": "EC", "kid": kid, "use": "sig", "crv": k.Curve.Params().Name,
		"x": b64(pad(k.X.Bytes())), "y": b64(pad(k.Y.Bytes())),
	}
}

// jwksServer is a local identity provider whose key set tests can swap, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	keys   []map[string]string
	status int
	hits   atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...map[string]string) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
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

func (s *jwksServer) setKeys(keys ...map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func (s *jwksServer) setStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func newPolicy(t *testing.T, params map[string]interface{}) *Policy {
	t.Helper()
	return policytest.New(t, ".", GetPolicy, params).(*Policy)
}

// parse checks params against policy.yaml's schema, filling in the defaults, and
// parses them as GetPolicy does, without fetching the JWKS.
func parse(t *testing.T, params map[string]interface{}) (*config, error) {
	t.Helper()
	_, schema := policytest.LoadSpec(t, ".")
	filled, err := schema.Validate(params)
	if err != nil {
		return nil, err
	}
	return parseConfig(filled)
}

func request(headers map[string][]string) *policies.RequestContext {
	return &policies.RequestContext{
		Context: context.Background(),
		Route:   "r1",
		Headers: policies.NewHeaders(headers),
		Shared:  map[string]interface{}{},
	}
}

func bearer(token string) map[string][]string {
	return map[string][]string{"authorization": {"Bearer " + token}}
}
