// Package customauth is the customAuth policy: it authenticates a request by API key or
// HTTP basic auth, and forwards the authenticated principal to the upstream in a header.
package customauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const (
	policyName = "customAuth"
	cacheTTL   = 5 * time.Minute
	cacheSize  = 4096
)

// Policy is one configured customAuth instance. Its configuration is immutable after
// GetPolicy; the verification cache and the bcrypt semaphore are safe for concurrent use.
type Policy struct {
	policies.Checked
	cfg       *config
	challenge string
	cache     *verifiedCache
	// bcryptSlots bounds concurrent bcrypt comparisons to the number of CPUs, so a burst
	// of (possibly bogus) basic-auth requests queues instead of starving every other
	// policy of CPU; waiting respects the request's deadline.
	bcryptSlots chan struct{}
	// dummyHash is compared against when the username is unknown, so that an unknown user
	// costs as much time as a known one with a wrong password.
	dummyHash []byte
}

var _ policies.RequestPolicy = (*Policy)(nil)

// GetPolicy is the factory the engine calls once per configured instance.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	p := &Policy{
		Checked:     policyName,
		cfg:         cfg,
		challenge:   challenge(cfg),
		cache:       newVerifiedCache(cacheTTL, cacheSize),
		bcryptSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	if cfg.maxCost > 0 {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		if p.dummyHash, err = bcrypt.GenerateFromPassword(secret, cfg.maxCost); err != nil {
			return nil, fmt.Errorf("preparing bcrypt: %w", err)
		}
	}
	return p, nil
}

// challenge builds the WWW-Authenticate value: one challenge per configured scheme.
func challenge(cfg *config) string {
	var parts []string
	if len(cfg.users) > 0 {
		parts = append(parts, fmt.Sprintf(`Basic realm="%s", charset="UTF-8"`, cfg.realm))
	}
	if len(cfg.apiKeys) > 0 {
		parts = append(parts, fmt.Sprintf(`APIKey realm="%s", header="%s"`, cfg.realm, cfg.apiKeyHeader))
	}
	return strings.Join(parts, ", ")
}

// ExecuteRequest authenticates the request. Only the schemes that are configured are
// looked at: with no users, an Authorization header is left for later policies (a JWT
// check, say); with no API keys, the key header is ignored.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	authz := ctx.Headers.Values("authorization")
	useBasic := len(p.cfg.users) > 0 && len(authz) > 0 && hasBasicScheme(authz[0])
	var keys []string
	if len(p.cfg.apiKeys) > 0 {
		keys = ctx.Headers.Values(p.cfg.apiKeyHeader)
	}

	var (
		principal string
		ok        bool
		used      string // the credential header, removed when stripCredentials is on
	)
	switch {
	case useBasic && len(keys) > 0:
		// Two credentials could name two principals; refuse rather than pick one.
		return p.deny(401, "conflicting credentials", "both basic auth and API key sent")
	case useBasic:
		if len(authz) > 1 {
			return p.deny(401, "invalid credentials", "more than one authorization header")
		}
		var err error
		principal, ok, err = p.checkBasic(ctx.Context, authz[0])
		if err != nil {
			return p.deny(503, "authentication unavailable", "basic auth: "+err.Error())
		}
		used = "authorization"
	case len(keys) > 0:
		if len(keys) > 1 {
			return p.deny(401, "invalid credentials", "more than one value in header "+p.cfg.apiKeyHeader)
		}
		principal, ok = p.checkAPIKey(keys[0])
		used = p.cfg.apiKeyHeader
	default:
		return p.deny(401, "missing credentials", "no credentials")
	}
	if !ok {
		return p.deny(401, "invalid credentials", "credentials not accepted")
	}

	action := &policies.RequestPolicyAction{Headers: policies.HeaderChanges{
		// Set replaces any value the client sent, so the principal cannot be forged.
		Set: map[string]string{p.cfg.principalHeader: principal},
	}}
	if p.cfg.stripCredentials {
		action.Headers.Remove = []string{used}
	}
	return action
}

func hasBasicScheme(v string) bool {
	scheme, _, _ := strings.Cut(v, " ")
	return strings.EqualFold(scheme, "basic")
}

// checkAPIKey compares the presented key's digest with every configured digest, in
// constant time and without stopping early, and selects the matching principal without
// branching on secret data.
func (p *Policy) checkAPIKey(presented string) (string, bool) {
	digest := sha256.Sum256([]byte(presented))
	found, index := 0, 0
	for i := range p.cfg.apiKeys {
		eq := subtle.ConstantTimeCompare(digest[:], p.cfg.apiKeys[i].digest[:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		found |= eq
	}
	if found != 1 {
		return "", false
	}
	return p.cfg.apiKeys[index].principal, true
}

// checkBasic verifies "Basic base64(user:password)". The error is non-nil only when the
// request's deadline passed while waiting for a bcrypt slot.
func (p *Policy) checkBasic(ctx context.Context, header string) (string, bool, error) {
	_, encoded, _ := strings.Cut(header, " ")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", false, nil
	}
	username, password, found := strings.Cut(string(raw), ":")
	if !found || username == "" {
		return "", false, nil
	}
	u, known := p.cfg.users[username]
	switch {
	case !known && p.dummyHash != nil:
		_, err := p.compareBcrypt(ctx, p.dummyHash, password)
		return "", false, err
	case !known:
		return "", false, nil
	case u.bcryptHash != nil:
		key := p.cache.key(username, password)
		if p.cache.contains(key) {
			return username, true, nil
		}
		ok, err := p.compareBcrypt(ctx, u.bcryptHash, password)
		if ok {
			p.cache.add(key)
		}
		return username, ok, err
	default:
		digest := sha256.Sum256([]byte(password))
		return username, subtle.ConstantTimeCompare(digest[:], u.sha256[:]) == 1, nil
	}
}

func (p *Policy) compareBcrypt(ctx context.Context, hash []byte, password string) (bool, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case p.bcryptSlots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-p.bcryptSlots }()
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil, nil
}

func (p *Policy) deny(status int, body, details string) *policies.RequestPolicyAction {
	action := policies.Deny(status, body+"\n")
	if status == 401 {
		action.Immediate.Headers["www-authenticate"] = p.challenge
	}
	action.Immediate.Details = policyName + ": " + details
	return action
}
