package xds

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// snapshot is one version of the config parts. go-control-plane's own Snapshot knows
// only Envoy's resource types, so the cache gets this small ResourceSnapshot instead.
type snapshot struct {
	version   string
	resources map[string]types.ResourceWithTTL
}

var _ cachev3.ResourceSnapshot = (*snapshot)(nil)

func newSnapshot(version string, parts []types.Resource) *snapshot {
	s := &snapshot{version: version, resources: make(map[string]types.ResourceWithTTL, len(parts))}
	for _, p := range parts {
		s.resources[cachev3.GetResourceName(p)] = types.ResourceWithTTL{Resource: p}
	}
	return s
}

func (s *snapshot) GetVersion(typeURL string) string {
	if typeURL != TypeURL {
		return ""
	}
	return s.version
}

func (s *snapshot) GetResourcesAndTTL(typeURL string) map[string]types.ResourceWithTTL {
	if typeURL != TypeURL {
		return nil
	}
	return s.resources
}

func (s *snapshot) GetResources(typeURL string) map[string]types.Resource {
	if typeURL != TypeURL {
		return nil
	}
	out := make(map[string]types.Resource, len(s.resources))
	for name, r := range s.resources {
		out[name] = r.Resource
	}
	return out
}

// ConstructVersionMap has nothing to precompute: every part carries the snapshot
// version (delta xDS is not used by the subscriber, but stays coherent).
func (s *snapshot) ConstructVersionMap() error { return nil }

func (s *snapshot) GetVersionMap(typeURL string) map[string]string {
	if typeURL != TypeURL {
		return nil
	}
	out := make(map[string]string, len(s.resources))
	for name := range s.resources {
		out[name] = s.version
	}
	return out
}

// fleet is the cache's node hash: every subscriber gets the same snapshot, which is
// the point of serving one config file to a fleet.
type fleet struct{}

const fleetKey = "fleet"

func (fleet) ID(*corev3.Node) string { return fleetKey }
