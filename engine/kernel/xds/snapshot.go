package xds

import (
	"crypto/sha256"
	"encoding/hex"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
)

// snapshot is one version of the config parts. go-control-plane's own Snapshot knows
// only Envoy's resource types, so the cache gets this small ResourceSnapshot instead.
type snapshot struct {
	version   string
	resources map[string]types.ResourceWithTTL
	versions  map[string]string // per resource, for delta xDS
}

var _ cachev3.ResourceSnapshot = (*snapshot)(nil)

// newSnapshot also gives each resource a version of its own, a hash of its content,
// so a delta xDS subscriber would be sent only the chains that changed.
func newSnapshot(version string, parts []types.Resource) (*snapshot, error) {
	s := &snapshot{version: version,
		resources: make(map[string]types.ResourceWithTTL, len(parts)),
		versions:  make(map[string]string, len(parts))}
	for _, p := range parts {
		name := cachev3.GetResourceName(p)
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		s.resources[name] = types.ResourceWithTTL{Resource: p}
		s.versions[name] = hex.EncodeToString(sum[:8])
	}
	return s, nil
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

// ConstructVersionMap has nothing left to do: newSnapshot built the map, so the
// snapshot stays immutable once the cache has it.
func (s *snapshot) ConstructVersionMap() error { return nil }

func (s *snapshot) GetVersionMap(typeURL string) map[string]string {
	if typeURL != TypeURL {
		return nil
	}
	return s.versions
}

// fleet is the cache's node hash: every subscriber gets the same snapshot, which is
// the point of serving one config file to a fleet.
type fleet struct{}

const fleetKey = "fleet"

func (fleet) ID(*corev3.Node) string { return fleetKey }
