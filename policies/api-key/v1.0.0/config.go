package apikey

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
)

const defaultHeader = "x-api-key"

// config is the parsed, validated form of one instance's parameters.
type config struct {
	header       string
	keyDigests   [][sha256.Size]byte
	removeHeader bool
}

var knownParams = map[string]bool{"header": true, "keys": true, "removeHeader": true}

// parseConfig validates params and turns them into a config. Every error names the
// parameter at fault, because the engine shows it to whoever wrote the configuration.
func parseConfig(params map[string]interface{}) (*config, error) {
	if err := rejectUnknown(params); err != nil {
		return nil, err
	}
	cfg := &config{header: defaultHeader}

	if raw, ok := params["header"]; ok && raw != nil {
		name, ok := raw.(string)
		if !ok {
			return nil, fmt.Errorf("parameter %q: must be a string, got %T", "header", raw)
		}
		if err := checkHeaderName(name); err != nil {
			return nil, fmt.Errorf("parameter %q: %w", "header", err)
		}
		cfg.header = strings.ToLower(name)
	}

	raw, ok := params["keys"]
	if !ok || raw == nil {
		return nil, fmt.Errorf("parameter %q: required", "keys")
	}
	list, ok := raw.([]interface{})
	if !ok {
		// Configurations built in Go (tests, embedders) may pass a []string.
		strs, isStrings := raw.([]string)
		if !isStrings {
			return nil, fmt.Errorf("parameter %q: must be an array of strings, got %T", "keys", raw)
		}
		for _, s := range strs {
			list = append(list, s)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("parameter %q: must hold at least one key", "keys")
	}
	cfg.keyDigests = make([][sha256.Size]byte, 0, len(list))
	for i, item := range list {
		key, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("parameter %q: item %d must be a string, got %T", "keys", i, item)
		}
		if key == "" {
			return nil, fmt.Errorf("parameter %q: item %d is empty", "keys", i)
		}
		if strings.TrimSpace(key) != key {
			// Envoy trims header values, so such a key could never match.
			return nil, fmt.Errorf("parameter %q: item %d has leading or trailing whitespace", "keys", i)
		}
		cfg.keyDigests = append(cfg.keyDigests, sha256.Sum256([]byte(key)))
	}

	if raw, ok := params["removeHeader"]; ok && raw != nil {
		b, ok := raw.(bool)
		if !ok {
			return nil, fmt.Errorf("parameter %q: must be a boolean, got %T", "removeHeader", raw)
		}
		cfg.removeHeader = b
	}
	return cfg, nil
}

// rejectUnknown catches misspelt parameters, which would otherwise silently fall back
// to defaults.
func rejectUnknown(params map[string]interface{}) error {
	var unknown []string
	for name := range params {
		if !knownParams[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("unknown parameter(s) %s; known: header, keys, removeHeader", strings.Join(unknown, ", "))
}

// checkHeaderName accepts an HTTP field name (RFC 9110 token) that is not a pseudo-header.
func checkHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("must not be empty")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("%q is not a valid header name (character %q)", name, name[i])
		}
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
