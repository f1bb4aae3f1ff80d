package customauth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const (
	sha256Prefix = "sha256:"
	// maxBcryptCost bounds the CPU one uncached basic-auth check may take: cost 12 is
	// roughly 250 ms on a server core, already more than Envoy's default 200 ms
	// ext_proc message timeout.
	maxBcryptCost = 12
)

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it and filled in the defaults. policy.yaml cannot describe
// the fields of apiKeys' items or users' values, so parseConfig checks those.
type params struct {
	APIKeys          []apiKeyParam     `param:"apiKeys"`
	Users            map[string]string `param:"users"`
	APIKeyHeader     string            `param:"apiKeyHeader"`
	PrincipalHeader  string            `param:"principalHeader"`
	Realm            string            `param:"realm"`
	StripCredentials bool              `param:"stripCredentials"`
}

// apiKeyParam is one item of apiKeys: a principal and exactly one of the key or its
// SHA-256 digest (nil when absent).
type apiKeyParam struct {
	Principal string  `param:"principal"`
	Key       *string `param:"key"`
	SHA256    *string `param:"sha256"`
}

type apiKey struct {
	principal string
	digest    [sha256.Size]byte
}

// user holds exactly one of a bcrypt hash or a SHA-256 digest of the password.
type user struct {
	bcryptHash []byte
	sha256     [sha256.Size]byte
}

// config is the parsed form of one instance's parameters.
type config struct {
	realm            string
	apiKeyHeader     string
	apiKeys          []apiKey
	users            map[string]user
	principalHeader  string
	stripCredentials bool
	// maxCost is the highest bcrypt cost among users; 0 when no user has a bcrypt hash.
	maxCost int
}

// parseConfig adds to policy.yaml's checks what it cannot express. Every error names
// the parameter at fault, and none echoes a key or password hash.
func parseConfig(raw map[string]interface{}) (*config, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	cfg := &config{
		realm:            p.Realm,
		apiKeyHeader:     strings.ToLower(p.APIKeyHeader),
		principalHeader:  strings.ToLower(p.PrincipalHeader),
		stripCredentials: p.StripCredentials,
		users:            map[string]user{},
	}
	for _, h := range []struct{ param, name string }{
		{"apiKeyHeader", cfg.apiKeyHeader}, {"principalHeader", cfg.principalHeader},
	} {
		if h.name == "host" || strings.HasPrefix(h.name, "x-envoy-") {
			return nil, fmt.Errorf("parameter %q: Envoy ignores changes to %q by default", h.param, h.name)
		}
	}
	if cfg.principalHeader == "authorization" || cfg.principalHeader == cfg.apiKeyHeader {
		return nil, fmt.Errorf("parameter %q: %q is a credential header; choose another name", "principalHeader", cfg.principalHeader)
	}
	if err := parseAPIKeys(p.APIKeys, cfg); err != nil {
		return nil, err
	}
	if err := parseUsers(p.Users, cfg); err != nil {
		return nil, err
	}
	if len(cfg.apiKeys) == 0 && len(cfg.users) == 0 {
		return nil, fmt.Errorf("parameters %q and %q: configure at least one API key or user", "apiKeys", "users")
	}
	return cfg, nil
}

func parseAPIKeys(items []apiKeyParam, cfg *config) error {
	for i, item := range items {
		principal := item.Principal
		if principal == "" {
			return fmt.Errorf("parameter %q: item %d: %q must be a non-empty string", "apiKeys", i, "principal")
		}
		if err := checkHeaderValue(principal); err != nil {
			return fmt.Errorf("parameter %q: item %d: principal: %w", "apiKeys", i, err)
		}
		if (item.Key == nil) == (item.SHA256 == nil) {
			return fmt.Errorf("parameter %q: item %d (%s): give exactly one of %q and %q", "apiKeys", i, principal, "key", "sha256")
		}
		entry := apiKey{principal: principal}
		if item.Key != nil {
			if s := *item.Key; s == "" || strings.TrimSpace(s) != s {
				return fmt.Errorf("parameter %q: item %d (%s): %q must be a non-empty string without surrounding whitespace", "apiKeys", i, principal, "key")
			}
			entry.digest = sha256.Sum256([]byte(*item.Key))
		} else {
			digest, err := decodeSHA256(*item.SHA256)
			if err != nil {
				return fmt.Errorf("parameter %q: item %d (%s): %q: %w", "apiKeys", i, principal, "sha256", err)
			}
			entry.digest = digest
		}
		for _, prev := range cfg.apiKeys {
			if prev.digest == entry.digest {
				return fmt.Errorf("parameter %q: item %d (%s): same key as principal %q", "apiKeys", i, principal, prev.principal)
			}
		}
		cfg.apiKeys = append(cfg.apiKeys, entry)
	}
	return nil
}

func parseUsers(users map[string]string, cfg *config) error {
	// Sorted so that, with several errors, the same one is reported every time.
	for _, name := range slices.Sorted(maps.Keys(users)) {
		if name == "" || strings.ContainsRune(name, ':') {
			return fmt.Errorf("parameter %q: username %q must be non-empty and must not contain ':'", "users", name)
		}
		if err := checkHeaderValue(name); err != nil {
			return fmt.Errorf("parameter %q: username %q: %w", "users", name, err)
		}
		hash := users[name]
		var u user
		switch {
		case strings.HasPrefix(hash, sha256Prefix):
			digest, err := decodeSHA256(strings.TrimPrefix(hash, sha256Prefix))
			if err != nil {
				return fmt.Errorf("parameter %q: user %q: %w", "users", name, err)
			}
			u.sha256 = digest
		case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
			cost, err := bcrypt.Cost([]byte(hash))
			if err != nil {
				return fmt.Errorf("parameter %q: user %q: malformed bcrypt hash: %v", "users", name, err)
			}
			if cost > maxBcryptCost {
				return fmt.Errorf("parameter %q: user %q: bcrypt cost %d is above %d; each uncached check would exceed the ext_proc timeout", "users", name, cost, maxBcryptCost)
			}
			if len(hash) != 60 {
				return fmt.Errorf("parameter %q: user %q: malformed bcrypt hash (want 60 characters, got %d)", "users", name, len(hash))
			}
			u.bcryptHash = []byte(hash)
			cfg.maxCost = max(cfg.maxCost, cost)
		default:
			return fmt.Errorf("parameter %q: user %q: password hash must be bcrypt ($2a$/$2b$/$2y$...) or %q followed by 64 hex digits; plain-text passwords are not accepted", "users", name, sha256Prefix)
		}
		cfg.users[name] = u
	}
	return nil
}

func decodeSHA256(s string) ([sha256.Size]byte, error) {
	var digest [sha256.Size]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return digest, fmt.Errorf("must be 64 hex digits (a SHA-256 digest)")
	}
	copy(digest[:], b)
	return digest, nil
}

// checkHeaderValue rejects what cannot be forwarded safely in a header value.
func checkHeaderValue(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("contains control character %q", c)
		}
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("has leading or trailing whitespace")
	}
	return nil
}
