package envoyconfig

import (
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/policy-engine-builder/policy-engine/pkg/yamljson"
	"github.com/policy-engine-builder/policy-engine/worker/core"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

type nop struct{}

func (nop) Name() string                  { return "nop" }
func (nop) Validate(map[string]any) error { return nil }
func (nop) ExecuteRequest(*policies.RequestContext, map[string]any) *policies.RequestPolicyAction {
	return nil
}
func (nop) ExecuteResponse(*policies.ResponseContext, map[string]any) *policies.ResponsePolicyAction {
	return nil
}

func spec(name string, body, response bool) []byte {
	return []byte("name: " + name + "\nversion: v1.0.0\ndescription: test\nsupportsRequestPhase: true\n" +
		"supportsResponsePhase: " + map[bool]string{true: "true", false: "false"}[response] + "\n" +
		"requiresRequestBody: " + map[bool]string{true: "true", false: "false"}[body] + "\n" +
		"requiresResponseBody: false\nparameters: []\n")
}

// inspect builds the snapshot of config with two compiled-in test policies: head
// (headers only) and body (reads the request body, has a response phase).
func inspect(t *testing.T, config string, fn func(*core.Snapshot)) {
	t.Helper()
	reg := core.NewRegistry()
	for _, d := range []struct {
		name           string
		body, response bool
	}{{"head", false, false}, {"body", true, true}} {
		err := reg.Register(core.PolicyDefinition{Name: d.name, Version: "v1.0.0", Spec: spec(d.name, d.body, d.response),
			Factory: func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) { return nop{}, nil }})
		if err != nil {
			t.Fatal(err)
		}
	}
	store := core.NewConfigStore(core.NewCatalog(reg), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err := store.Inspect([]byte(config), "test.yaml", func(s *core.Snapshot) error { fn(s); return nil }); err != nil {
		t.Fatal(err)
	}
}

const config = `
routes:
  - name: headers
    policies: [{name: head, version: v1.0.0}]
  - name: bodies
    policies: [{name: head, version: v1.0.0}, {name: body, version: v1.0.0}]
phaseTimeout: 300ms
mutationRules: {allowAllRouting: true}
`

var opts = Options{Listen: "127.0.0.1:8080", Admin: "127.0.0.1:9901", Engines: []string{"127.0.0.1:9001", "engine-b:9001"},
	Upstream: "127.0.0.1:8000", MaxBodyBytes: 1 << 20,
	Routes: []Route{{Prefix: "/b", Name: "bodies", Upstream: "127.0.0.1:8001"}, {Prefix: "/", Name: "headers"}}}

func filterOf(t *testing.T, b *bootstrapv3.Bootstrap) (*hcmv3.HttpConnectionManager, *extprocv3.ExternalProcessor) {
	t.Helper()
	m, err := b.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalNew()
	if err != nil {
		t.Fatal(err)
	}
	hcm := m.(*hcmv3.HttpConnectionManager)
	var names []string
	for _, f := range hcm.GetHttpFilters() {
		names = append(names, f.GetName())
	}
	if !slices.Equal(names, []string{ExtProcFilter, routerFilterName}) {
		t.Fatalf("http_filters = %v: ext_proc must run before the router", names)
	}
	ep, err := hcm.GetHttpFilters()[0].GetTypedConfig().UnmarshalNew()
	if err != nil {
		t.Fatal(err)
	}
	return hcm, ep.(*extprocv3.ExternalProcessor)
}

func TestBuildFitsTheEngine(t *testing.T) {
	inspect(t, config, func(snap *core.Snapshot) {
		b, err := Build(snap, opts)
		if err != nil {
			t.Fatal(err)
		}
		hcm, ep := filterOf(t, b)
		if ep.GetFailureModeAllow() || !ep.GetAllowModeOverride() {
			t.Errorf("failure_mode_allow=%v allow_mode_override=%v, want false, true", ep.GetFailureModeAllow(), ep.GetAllowModeOverride())
		}
		if got, want := ep.GetMessageTimeout().AsDuration(), 300*time.Millisecond+MessageTimeoutMargin; got != want {
			t.Errorf("message_timeout = %v, want phaseTimeout + margin = %v", got, want)
		}
		if !ep.GetMutationRules().GetAllowAllRouting().GetValue() || ep.GetMutationRules().GetAllowEnvoy().GetValue() {
			t.Errorf("mutation_rules = %v, want the engine's (allow_all_routing only)", ep.GetMutationRules())
		}
		if m := ep.GetProcessingMode(); m.GetRequestBodyMode() != extprocv3.ProcessingMode_NONE ||
			m.GetResponseHeaderMode() != extprocv3.ProcessingMode_SEND {
			t.Errorf("processing_mode = %v: want no bodies by default, response headers (a chain has response policies)", m)
		}
		if !slices.Contains(ep.GetRequestAttributes(), "xds.route_name") {
			t.Errorf("request_attributes = %v", ep.GetRequestAttributes())
		}
		routes := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()
		if routes[0].GetName() != "bodies" || routes[0].GetRequestBodyBufferLimit().GetValue() != 1<<20 {
			t.Errorf("body route: %v, want the engine's body limit", routes[0])
		}
		if routes[1].GetRequestBodyBufferLimit() != nil {
			t.Errorf("headers route needs no body buffer: %v", routes[1])
		}
		if routes[0].GetRoute().GetCluster() == routes[1].GetRoute().GetCluster() {
			t.Error("routes with different upstreams share a cluster")
		}
		engine := b.GetStaticResources().GetClusters()[0]
		if engine.GetName() != EngineCluster || engine.GetType().String() != "STRICT_DNS" ||
			len(engine.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()) != 2 || len(engine.GetHealthChecks()) != 1 {
			t.Errorf("engine cluster: %v", engine)
		}
	})
}

func TestRenderRoundTrips(t *testing.T) {
	inspect(t, config, func(snap *core.Snapshot) {
		b, err := Build(snap, opts)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Render(b, snap, "Generated for a test.")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"# Generated for a test.\n", "# Engine chain bodies: head:v1.0.0, body:v1.0.0; on the response body:v1.0.0.",
			"failure_mode_allow: false", "message_timeout: 0.400s"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		js, err := yamljson.ToJSON(out)
		if err != nil {
			t.Fatal(err)
		}
		back := &bootstrapv3.Bootstrap{}
		if err := protojson.Unmarshal(js, back); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(back, b) {
			t.Errorf("YAML does not read back as what was built:\n%s", out)
		}
		again, _ := Render(b, snap, "Generated for a test.")
		if string(again) != string(out) {
			t.Error("rendering twice gives different bytes")
		}
	})
}

func TestUnknownRoutesFollowTheEngine(t *testing.T) {
	inspect(t, "routes: [{name: a, policies: [{name: head, version: v1.0.0}]}]\n", func(snap *core.Snapshot) {
		if ChainFor(snap, "nope") != nil || !strings.Contains(routeNote(snap, "nope"), "denies") {
			t.Errorf("a route without a chain must say it is denied: %q", routeNote(snap, "nope"))
		}
	})
	inspect(t, "routes: [{name: a, policies: [{name: head, version: v1.0.0}]}]\ndefaultRoute: a\n", func(snap *core.Snapshot) {
		if ChainFor(snap, "nope") == nil {
			t.Error("a route without a chain runs the default chain")
		}
	})
}

func TestBuildRejects(t *testing.T) {
	inspect(t, config, func(snap *core.Snapshot) {
		for name, o := range map[string]Options{
			"no routes":    {Listen: "127.0.0.1:1", Engines: []string{"127.0.0.1:2"}, Upstream: "127.0.0.1:3"},
			"no engine":    {Listen: "127.0.0.1:1", Upstream: "127.0.0.1:3", Routes: opts.Routes},
			"bad port":     {Listen: "127.0.0.1:0", Engines: []string{"127.0.0.1:2"}, Upstream: "127.0.0.1:3", Routes: opts.Routes},
			"no upstream":  {Listen: "127.0.0.1:1", Engines: []string{"127.0.0.1:2"}, Routes: []Route{{Prefix: "/", Name: "x"}}},
			"empty prefix": {Listen: "127.0.0.1:1", Engines: []string{"127.0.0.1:2"}, Upstream: "127.0.0.1:3", Routes: []Route{{Name: "x"}}},
			"TLS, no CA":   withTLS(EngineTLS{Cert: "c.pem", Key: "k.pem"}),
			"TLS, no key":  withTLS(EngineTLS{CA: "ca.pem", Cert: "c.pem"}),
		} {
			if _, err := Build(snap, o); err == nil {
				t.Errorf("%s: built without an error", name)
			}
		}
	})
}

func withTLS(t EngineTLS) Options {
	o := opts
	o.EngineTLS = &t
	return o
}

func TestEngineTLS(t *testing.T) {
	inspect(t, config, func(snap *core.Snapshot) {
		plain, err := Build(snap, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range plain.GetStaticResources().GetClusters() {
			if c.GetTransportSocket() != nil {
				t.Fatalf("%s: a transport socket without EngineTLS", c.GetName())
			}
		}
		b, err := Build(snap, withTLS(EngineTLS{CA: "/etc/ca.pem", Cert: "/etc/envoy.pem", Key: "/etc/envoy-key.pem", SNI: "engine.internal"}))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range b.GetStaticResources().GetClusters() {
			socket := c.GetTransportSocket()
			if c.GetName() != EngineCluster {
				if socket != nil {
					t.Errorf("%s: TLS to the engines must not change the upstreams", c.GetName())
				}
				continue
			}
			ctx := &tlsv3.UpstreamTlsContext{}
			if socket.GetName() != "envoy.transport_sockets.tls" || socket.GetTypedConfig().UnmarshalTo(ctx) != nil {
				t.Fatalf("engine cluster socket: %v", socket)
			}
			common := ctx.GetCommonTlsContext()
			san := common.GetValidationContext().GetMatchTypedSubjectAltNames()
			switch {
			case ctx.GetSni() != "engine.internal", len(san) != 1 || san[0].GetMatcher().GetExact() != "engine.internal":
				t.Errorf("SNI and the name checked: %v", ctx)
			case common.GetValidationContext().GetTrustedCa().GetFilename() != "/etc/ca.pem":
				t.Errorf("CA: %v", common.GetValidationContext())
			case len(common.GetTlsCertificates()) != 1 || common.GetTlsCertificates()[0].GetPrivateKey().GetFilename() != "/etc/envoy-key.pem":
				t.Errorf("client certificate: %v", common.GetTlsCertificates())
			case len(common.GetAlpnProtocols()) != 1 || common.GetAlpnProtocols()[0] != "h2":
				t.Errorf("ALPN: %v", common.GetAlpnProtocols())
			}
		}
		if _, err := Render(b, snap, "TLS"); err != nil {
			t.Errorf("render: %v", err)
		}
	})
}
