package envoyconfig

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/policy-engine-builder/policy-engine/pkg/yamljson"

	// Registered so that the typed_config Anys in the example resolve.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

const examples = "../../examples/envoy/"

type validator interface {
	proto.Message
	ValidateAll() error
}

func load(t *testing.T) *bootstrapv3.Bootstrap {
	t.Helper()
	raw, err := os.ReadFile(examples + "envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yamljson.ToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, b); err != nil {
		t.Fatalf("envoy.yaml is not a valid Bootstrap: %v", err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("envoy.yaml fails Envoy's validation: %v", err)
	}
	return b
}

// unpack opens a typed_config and runs its own validation, which the Bootstrap's
// ValidateAll does not reach through an Any.
func unpack(t *testing.T, a *anypb.Any) proto.Message {
	t.Helper()
	m, err := a.UnmarshalNew()
	if err != nil {
		t.Fatalf("typed_config %s: %v", a.GetTypeUrl(), err)
	}
	v, ok := m.(validator)
	if !ok {
		t.Fatalf("typed_config %s has no validation", a.GetTypeUrl())
	}
	if err := v.ValidateAll(); err != nil {
		t.Fatalf("typed_config %s: %v", a.GetTypeUrl(), err)
	}
	return m
}

func TestExampleEnvoyConfig(t *testing.T) {
	b := load(t)
	for _, c := range b.GetStaticResources().GetClusters() {
		for _, opts := range c.GetTypedExtensionProtocolOptions() {
			unpack(t, opts)
		}
	}
	var hcm *hcmv3.HttpConnectionManager
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				hcm = unpack(t, f.GetTypedConfig()).(*hcmv3.HttpConnectionManager)
			}
		}
	}
	if hcm == nil {
		t.Fatal("no http_connection_manager")
	}
	var ep *extprocv3.ExternalProcessor
	var names []string
	for _, f := range hcm.GetHttpFilters() {
		names = append(names, f.GetName())
		if m, ok := unpack(t, f.GetTypedConfig()).(*extprocv3.ExternalProcessor); ok {
			ep = m
		}
	}
	if !slices.Equal(names, []string{"envoy.filters.http.ext_proc", "envoy.filters.http.router"}) {
		t.Errorf("http_filters = %v: ext_proc must run before the router", names)
	}
	if ep == nil {
		t.Fatal("no ext_proc filter")
	}
	// The settings the engine relies on.
	if got := ep.GetGrpcService().GetEnvoyGrpc().GetClusterName(); got != "policy_engine" {
		t.Errorf("ext_proc cluster = %q", got)
	}
	if !slices.Contains(ep.GetRequestAttributes(), "xds.route_name") {
		t.Error("request_attributes lacks xds.route_name: the engine could not map routes")
	}
	if !ep.GetAllowModeOverride() || ep.GetFailureModeAllow() {
		t.Errorf("allow_mode_override=%v failure_mode_allow=%v, want true/false", ep.GetAllowModeOverride(), ep.GetFailureModeAllow())
	}
	if m := ep.GetProcessingMode(); m.GetRequestBodyMode() != extprocv3.ProcessingMode_NONE || m.GetResponseBodyMode() != extprocv3.ProcessingMode_NONE {
		t.Errorf("processing_mode asks for bodies by default: %v", m)
	}
	if ep.GetMessageTimeout().AsDuration() <= 0 || ep.GetMutationRules() == nil {
		t.Error("message_timeout and mutation_rules must be explicit")
	}
	var engineCluster bool
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == "policy_engine" {
			engineCluster = c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue() == 9001
		}
	}
	if !engineCluster {
		t.Error("cluster policy_engine must point at the engine's ext_proc port 9001")
	}
}

func TestRouteNamesMatchEngineConfig(t *testing.T) {
	b := load(t)
	var envoyRoutes []string
	for _, l := range b.GetStaticResources().GetListeners() {
		hcm := unpack(t, l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig()).(*hcmv3.HttpConnectionManager)
		for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				envoyRoutes = append(envoyRoutes, r.GetName())
			}
		}
	}
	raw, err := os.ReadFile(examples + "engine-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		DefaultRoute string `json:"defaultRoute"`
		Routes       []struct {
			Name string `json:"name"`
		} `json:"routes"`
	}
	js, err := yamljson.ToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &cfg); err != nil {
		t.Fatal(err)
	}
	var engineRoutes []string
	for _, r := range cfg.Routes {
		engineRoutes = append(engineRoutes, r.Name)
	}
	slices.Sort(envoyRoutes)
	slices.Sort(engineRoutes)
	if !slices.Equal(envoyRoutes, engineRoutes) {
		t.Errorf("Envoy routes %v != engine chains %v", envoyRoutes, engineRoutes)
	}
	if !slices.Contains(engineRoutes, cfg.DefaultRoute) {
		t.Errorf("defaultRoute %q has no chain", cfg.DefaultRoute)
	}
}
