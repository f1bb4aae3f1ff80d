package headersetter

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it. policy.yaml cannot constrain an object's keys and values,
// so parseHeaders checks them.
type params struct {
	Headers map[string]string `param:"headers"`
}

// parseHeaders returns the "headers" parameter with lower-cased names. Every error
// names the parameter and header at fault.
func parseHeaders(raw map[string]interface{}) (map[string]string, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	if len(p.Headers) == 0 {
		return nil, fmt.Errorf("parameter %q: must set at least one header", "headers")
	}
	out := make(map[string]string, len(p.Headers))
	// Sorted so that, with several errors, the same one is reported every time.
	for _, name := range slices.Sorted(maps.Keys(p.Headers)) {
		lower := strings.ToLower(name)
		if err := policies.CheckHeaderChange(lower); err != nil {
			return nil, fmt.Errorf("parameter %q: header %q: %w", "headers", name, err)
		}
		if _, dup := out[lower]; dup {
			return nil, fmt.Errorf("parameter %q: header %q given twice (names are case-insensitive)", "headers", name)
		}
		value := p.Headers[name]
		if err := checkValue(value); err != nil {
			return nil, fmt.Errorf("parameter %q: header %q: %w", "headers", name, err)
		}
		out[lower] = value
	}
	return out, nil
}

// checkValue rejects control characters (CR and LF above all, which would allow header
// injection) and surrounding whitespace, which Envoy would trim anyway.
func checkValue(value string) error {
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("value contains control character %q", c)
		}
	}
	if strings.TrimSpace(value) != value {
		return fmt.Errorf("value has leading or trailing whitespace")
	}
	return nil
}
