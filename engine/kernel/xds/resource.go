package xds

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/policy-engine-builder/policy-engine/api/policyengine/v1"
	"github.com/policy-engine-builder/policy-engine/pkg/yamljson"
)

// TypeURL is the xDS type of policy discovery resources.
const TypeURL = "type.googleapis.com/policyengine.v1.ConfigPart"

const (
	settingsName = "settings"
	routePrefix  = "route/"
)

// Split turns a config document (YAML or JSON) into xDS resources: one per route and
// one for everything else. It checks only the document's shape (a map with a list of
// named routes); what the routes mean is the subscriber's Applier to judge, so an
// invalid chain still reaches the fleet and is NACKed there, visibly.
func Split(raw []byte, version string) ([]types.Resource, error) {
	v, err := yamljson.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("config document: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok && v != nil {
		return nil, errors.New("config document: must be a map")
	}
	if doc == nil {
		doc = map[string]any{}
	}
	var routes []any
	if r, ok := doc["routes"]; ok && r != nil {
		if routes, ok = r.([]any); !ok {
			return nil, errors.New("config document: routes must be a list")
		}
	}
	delete(doc, "routes")
	settings, err := structpb.NewStruct(doc)
	if err != nil {
		return nil, fmt.Errorf("config document: %w", err)
	}
	out := []types.Resource{&pb.ConfigPart{Name: settingsName, Part: &pb.ConfigPart_Settings{
		Settings: &pb.EngineSettings{Settings: settings, Version: version}}}}
	seen := map[string]bool{}
	for i, r := range routes {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("config document: routes[%d] must be a map", i)
		}
		name, _ := m["name"].(string)
		if name == "" || seen[name] {
			return nil, fmt.Errorf("config document: routes[%d] needs a unique non-empty name", i)
		}
		seen[name] = true
		s, err := structpb.NewStruct(m)
		if err != nil {
			return nil, fmt.Errorf("config document: route %q: %w", name, err)
		}
		out = append(out, &pb.ConfigPart{Name: routePrefix + name, Part: &pb.ConfigPart_Chain{
			Chain: &pb.PolicyChain{Route: s, Index: uint32(i)}}})
	}
	return out, nil
}

// Assemble rebuilds the config document (JSON, which the engine's YAML loader reads)
// from a full set of resources, and returns the version it carries.
func Assemble(resources []*anypb.Any) (doc []byte, version string, err error) {
	var chains []*pb.PolicyChain
	var settings *pb.EngineSettings
	for _, a := range resources {
		part := &pb.ConfigPart{}
		if err := a.UnmarshalTo(part); err != nil {
			return nil, "", fmt.Errorf("resource of type %s: %w", a.GetTypeUrl(), err)
		}
		switch p := part.GetPart().(type) {
		case *pb.ConfigPart_Settings:
			if settings != nil {
				return nil, "", errors.New("two settings resources")
			}
			settings = p.Settings
		case *pb.ConfigPart_Chain:
			if !strings.HasPrefix(part.GetName(), routePrefix) {
				return nil, "", fmt.Errorf("chain resource %q is not named %s<route>", part.GetName(), routePrefix)
			}
			chains = append(chains, p.Chain)
		default:
			return nil, "", fmt.Errorf("resource %q has no part", part.GetName())
		}
	}
	if settings == nil {
		return nil, "", errors.New("no settings resource: incomplete update")
	}
	m := settings.GetSettings().AsMap()
	sort.SliceStable(chains, func(i, j int) bool { return chains[i].GetIndex() < chains[j].GetIndex() })
	routes := make([]any, 0, len(chains))
	for _, c := range chains {
		routes = append(routes, c.GetRoute().AsMap())
	}
	m["routes"] = routes
	doc, err = json.Marshal(m)
	return doc, settings.GetVersion(), err
}
