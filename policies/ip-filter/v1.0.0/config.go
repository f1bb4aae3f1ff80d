package ipfilter

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it and filled in the defaults.
type params struct {
	Allow          []string `param:"allow"`
	Deny           []string `param:"deny"`
	TrustedProxies []string `param:"trustedProxies"`
}

// config is the parsed form of one instance's parameters; immutable.
type config struct {
	allow, deny, trusted []netip.Prefix
}

func parseConfig(raw map[string]interface{}) (*config, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	if len(p.Allow) == 0 && len(p.Deny) == 0 {
		return nil, fmt.Errorf("parameters %q and %q: at least one of them must list an address", "allow", "deny")
	}
	cfg := &config{}
	var err error
	if cfg.allow, err = parsePrefixes("allow", p.Allow); err != nil {
		return nil, err
	}
	if cfg.deny, err = parsePrefixes("deny", p.Deny); err != nil {
		return nil, err
	}
	if cfg.trusted, err = parsePrefixes("trustedProxies", p.TrustedProxies); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parsePrefixes reads CIDRs, and single addresses as one-address prefixes. IPv4-mapped
// IPv6 prefixes are refused: addresses are compared unmapped, so they would never match.
func parsePrefixes(param string, items []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(items))
	for i, s := range items {
		var prefix netip.Prefix
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("parameter %q: item %d %q: %w", param, i, s, err)
			}
			if p != p.Masked() {
				return nil, fmt.Errorf("parameter %q: item %d %q has host bits set; did you mean %s?", param, i, s, p.Masked())
			}
			prefix = p
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("parameter %q: item %d %q: not a CIDR or an address: %w", param, i, s, err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("parameter %q: item %d %q: zones are not allowed", param, i, s)
			}
			prefix = netip.PrefixFrom(a, a.BitLen())
		}
		if prefix.Addr().Is4In6() {
			return nil, fmt.Errorf("parameter %q: item %d %q: write IPv4-mapped addresses in IPv4 form", param, i, s)
		}
		out = append(out, prefix)
	}
	return out, nil
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
