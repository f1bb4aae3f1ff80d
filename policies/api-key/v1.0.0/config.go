package apikey

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it and filled in the defaults.
type params struct {
	Header       string   `param:"header"`
	Keys         []string `param:"keys"`
	RemoveHeader bool     `param:"removeHeader"`
}

// config is the parsed form of one instance's parameters.
type config struct {
	header       string
	keyDigests   [][sha256.Size]byte
	removeHeader bool
}

// parseConfig adds to policy.yaml's checks what it cannot express. Every error names
// the parameter at fault, and none echoes a key.
func parseConfig(raw map[string]interface{}) (*config, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	if len(p.Keys) == 0 {
		return nil, fmt.Errorf("parameter %q: must hold at least one key", "keys")
	}
	cfg := &config{header: strings.ToLower(p.Header), removeHeader: p.RemoveHeader}
	// The builder's policy.yaml schema allows only a type in items, so item rules
	// live here.
	for i, key := range p.Keys {
		if key == "" {
			return nil, fmt.Errorf("parameter %q: item %d is empty", "keys", i)
		}
		if strings.TrimSpace(key) != key {
			// Envoy trims header values, so such a key could never match.
			return nil, fmt.Errorf("parameter %q: item %d has leading or trailing whitespace", "keys", i)
		}
		cfg.keyDigests = append(cfg.keyDigests, sha256.Sum256([]byte(key)))
	}
	return cfg, nil
}
