package customauth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

const (
	defaultRealm           = "restricted"
	defaultAPIKeyHeader    = "x-api-key"
	defaultPrincipalHeader = "x-auth-principal"
	sha256Prefix           = "sha256:"
	// maxBcryptCost bounds the CPU one uncached basic-auth check may take: cost 12 is
	// roughly 250 ms on a server core, already more than Envoy's default 200 ms
	// ext_proc message timeout.
	maxBcryptCost = 12
)

type apiKey struct {
	principal string
	digest    [sha256.Size]byte
}

// user holds exactly one of a bcrypt hash or a SHA-256 digest of the password.
type user struct {
	bcryptHash []byte
	sha256     [sha256.Size]byte
}

// config is the parsed, validated form of one instance's parameters.
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

var knownParams = []string{"apiKeyHeader", "apiKeys", "principalHeader", "realm", "stripCredentials", "users"}

// parseConfig validates params and turns them into a config. Every error names the
// parameter at fault.
func parseConfig(params map[string]interface{}) (*config, error) {
	if err := rejectUnknown(params); err != nil {
		return nil, err
	}
	cfg := &config{
		realm:            defaultRealm,
		apiKeyHeader:     defaultAPIKeyHeader,
		principalHeader:  defaultPrincipalHeader,
		stripCredentials: true,
		users:            map[string]user{},
	}
	var err error
	if cfg.realm, err = optString(params, "realm", cfg.realm); err != nil {
		return nil, err
	}
	if err := checkQuotable(cfg.realm); err != nil {
		return nil, fmt.Errorf("parameter %q: %w", "realm", err)
	}
	if cfg.apiKeyHeader, err = optHeaderName(params, "apiKeyHeader", cfg.apiKeyHeader); err != nil {
		return nil, err
	}
	if cfg.principalHeader, err = optHeaderName(params, "principalHeader", cfg.principalHeader); err != nil {
		return nil, err
	}
	if cfg.principalHeader == "authorization" || cfg.principalHeader == cfg.apiKeyHeader {
		return nil, fmt.Errorf("parameter %q: %q is a credential header; choose another name", "principalHeader", cfg.principalHeader)
	}
	if raw, ok := params["stripCredentials"]; ok && raw != nil {
		b, ok := raw.(bool)
		if !ok {
			return nil, fmt.Errorf("parameter %q: must be a boolean, got %T", "stripCredentials", raw)
		}
		cfg.stripCredentials = b
	}
	if err := parseAPIKeys(params["apiKeys"], cfg); err != nil {
		return nil, err
	}
	if err := parseUsers(params["users"], cfg); err != nil {
		return nil, err
	}
	if len(cfg.apiKeys) == 0 && len(cfg.users) == 0 {
		return nil, fmt.Errorf("parameters %q and %q: configure at least one API key or user", "apiKeys", "users")
	}
	return cfg, nil
}

func parseAPIKeys(raw interface{}, cfg *config) error {
	if raw == nil {
		return nil
	}
	list, ok := raw.([]interface{})
	if !ok {
		return fmt.Errorf("parameter %q: must be an array of {principal, key | sha256} objects, got %T", "apiKeys", raw)
	}
	for i, item := range list {
		obj, ok := item.(map[string]interface{})
		if !ok {
			return fmt.Errorf("parameter %q: item %d must be an object, got %T", "apiKeys", i, item)
		}
		for field := range obj {
			if field != "principal" && field != "key" && field != "sha256" {
				return fmt.Errorf("parameter %q: item %d: unknown field %q (known: principal, key, sha256)", "apiKeys", i, field)
			}
		}
		principal, ok := obj["principal"].(string)
		if !ok || principal == "" {
			return fmt.Errorf("parameter %q: item %d: %q must be a non-empty string", "apiKeys", i, "principal")
		}
		if err := checkHeaderValue(principal); err != nil {
			return fmt.Errorf("parameter %q: item %d: principal: %w", "apiKeys", i, err)
		}
		key, hasKey := obj["key"]
		sum, hasSum := obj["sha256"]
		if hasKey == hasSum {
			return fmt.Errorf("parameter %q: item %d (%s): give exactly one of %q and %q", "apiKeys", i, principal, "key", "sha256")
		}
		entry := apiKey{principal: principal}
		if hasKey {
			s, ok := key.(string)
			if !ok || s == "" || strings.TrimSpace(s) != s {
				return fmt.Errorf("parameter %q: item %d (%s): %q must be a non-empty string without surrounding whitespace", "apiKeys", i, principal, "key")
			}
			entry.digest = sha256.Sum256([]byte(s))
		} else {
			s, _ := sum.(string)
			digest, err := decodeSHA256(s)
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

func parseUsers(raw interface{}, cfg *config) error {
	if raw == nil {
		return nil
	}
	obj, ok := raw.(map[string]interface{})
	if !ok {
		return fmt.Errorf("parameter %q: must be an object of username to password hash, got %T", "users", raw)
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" || strings.ContainsRune(name, ':') {
			return fmt.Errorf("parameter %q: username %q must be non-empty and must not contain ':'", "users", name)
		}
		if err := checkHeaderValue(name); err != nil {
			return fmt.Errorf("parameter %q: username %q: %w", "users", name, err)
		}
		hash, ok := obj[name].(string)
		if !ok {
			return fmt.Errorf("parameter %q: user %q: password hash must be a string, got %T", "users", name, obj[name])
		}
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

func rejectUnknown(params map[string]interface{}) error {
	var unknown []string
	for name := range params {
		if i := sort.SearchStrings(knownParams, name); i == len(knownParams) || knownParams[i] != name {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("unknown parameter(s) %s; known: %s", strings.Join(unknown, ", "), strings.Join(knownParams, ", "))
}

func optString(params map[string]interface{}, name, def string) (string, error) {
	raw, ok := params[name]
	if !ok || raw == nil {
		return def, nil
	}
	s, ok := raw.(string)
	if !ok {
		return "", fmt.Errorf("parameter %q: must be a string, got %T", name, raw)
	}
	return s, nil
}

func optHeaderName(params map[string]interface{}, name, def string) (string, error) {
	s, err := optString(params, name, def)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("parameter %q: must not be empty", name)
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return "", fmt.Errorf("parameter %q: %q is not a valid header name (character %q)", name, s, s[i])
		}
	}
	s = strings.ToLower(s)
	if s == "host" || strings.HasPrefix(s, "x-envoy-") {
		return "", fmt.Errorf("parameter %q: Envoy ignores changes to %q by default", name, s)
	}
	return s, nil
}

// maxRealmLength matches maxLength in policy.yaml.
const maxRealmLength = 128

// checkQuotable accepts short text that can sit inside an HTTP quoted-string unescaped.
func checkQuotable(s string) error {
	if s == "" || len(s) > maxRealmLength {
		return fmt.Errorf("must be 1 to %d characters", maxRealmLength)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '"' || c == '\\' {
			return fmt.Errorf("must not contain quotes, backslashes or control characters")
		}
	}
	return nil
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

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
