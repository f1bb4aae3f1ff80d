// Package ipfilter is the ipFilter policy: it admits or refuses requests by client
// address against allow and deny lists of CIDRs.
package ipfilter

import (
	"net"
	"net/netip"
	"strings"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const policyName = "ipFilter"

// Policy is one configured ipFilter instance; immutable and safe for concurrent use.
type Policy struct {
	policies.Checked
	cfg *config
}

var _ policies.RequestPolicy = (*Policy)(nil)

// GetPolicy is the factory the engine calls once per configured instance.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	return &Policy{Checked: policyName, cfg: cfg}, nil
}

// ExecuteRequest admits the request (nil) or refuses it with 403. A request whose
// client address cannot be determined is refused: this is an access control.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	client, ok := p.clientAddr(ctx)
	if !ok {
		return deny("client address unknown (is source.address in the ext_proc request_attributes?)")
	}
	if contains(p.cfg.deny, client) {
		return deny("client " + client.String() + " is in the deny list")
	}
	if len(p.cfg.allow) > 0 && !contains(p.cfg.allow, client) {
		return deny("client " + client.String() + " is not in the allow list")
	}
	return nil
}

func deny(details string) *policies.RequestPolicyAction {
	a := policies.Deny(403, "forbidden\n")
	a.Immediate.Details = details
	return a
}

// clientAddr is the TCP peer, unless that peer is a trusted proxy: then the
// X-Forwarded-For entries are walked from the right (the entry the nearest proxy
// appended) past every trusted proxy, and the first other address is the client.
// Entries left of it were written by parties we do not trust, so they are never read.
// A list of nothing but trusted proxies leaves the last of them as the client (the
// proxy made the request itself). A malformed entry makes the client unknown: judging
// the request by the proxy's address instead could admit it by the proxy's rights.
func (p *Policy) clientAddr(ctx *policies.RequestContext) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(ctx.ClientAddress)
	if err != nil {
		return netip.Addr{}, false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	client := peer.Unmap().WithZone("")
	if len(p.cfg.trusted) == 0 {
		return client, true
	}
	values := ctx.Headers.Values("x-forwarded-for")
	for i := len(values) - 1; i >= 0; i-- {
		entries := strings.Split(values[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			if !contains(p.cfg.trusted, client) {
				return client, true
			}
			next, err := netip.ParseAddr(strings.TrimSpace(entries[j]))
			if err != nil {
				return netip.Addr{}, false
			}
			client = next.Unmap().WithZone("")
		}
	}
	return client, true
}
