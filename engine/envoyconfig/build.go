package envoyconfig

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	mutationrulesv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/policy-engine-builder/policy-engine/worker/core"
)

// Names in the generated configuration that other parts refer to.
const (
	ListenerName     = "ingress"
	EngineCluster    = "policy_engine"
	ExtProcFilter    = "envoy.filters.http.ext_proc"
	routeConfigName  = "routes"
	upstreamCluster  = "upstream"
	routerFilterName = "envoy.filters.http.router"
	hcmFilterName    = "envoy.filters.network.http_connection_manager"
)

// MessageTimeoutMargin is how much longer Envoy waits for an answer to one message
// than the engine's phaseTimeout lets the policies run: the engine answers (a 500 on a
// fail-closed route) when the budget runs out, and that answer must still arrive in
// time over gRPC on a busy machine.
const MessageTimeoutMargin = 100 * time.Millisecond

// DefaultHealthCheckInterval is how often Envoy asks each engine for its gRPC health.
const DefaultHealthCheckInterval = time.Second

// Route is one Envoy route: requests whose path starts with Prefix go to Upstream
// (Options.Upstream when empty), and Envoy sends Name to the engine as
// xds.route_name, which names the chain.
type Route struct {
	Prefix   string
	Name     string
	Upstream string
}

// Options place Envoy around the engine. Addresses are host:port; an IP address
// makes a STATIC cluster, a host name a STRICT_DNS one.
type Options struct {
	// Listen is Envoy's HTTP listener (HTTP/1.1 and HTTP/2 without TLS).
	Listen string
	// Admin is Envoy's admin interface; empty leaves it out. Keep it on loopback.
	Admin string
	// Engines are the engines' ext_proc addresses; Envoy balances streams over them
	// and health-checks each over gRPC.
	Engines []string
	// Upstream receives requests whose route names no upstream of its own.
	Upstream string
	// Routes, matched in this order.
	Routes []Route
	// HealthCheckInterval: DefaultHealthCheckInterval when zero.
	HealthCheckInterval time.Duration
	// MaxBodyBytes is the largest body the engine buffers for its policies; routes
	// whose chain reads the request body let Envoy buffer that much.
	MaxBodyBytes uint64
	// EngineTLS, when set, makes Envoy speak TLS to the engines (serve --tls-cert).
	EngineTLS *EngineTLS
}

// EngineTLS is how Envoy reaches engines that serve ext_proc over TLS. Paths are
// Envoy's: it reads (and re-reads) the files itself.
type EngineTLS struct {
	// CA is the PEM file of the CA the engines' certificates must chain to.
	CA string
	// Cert and Key are Envoy's client certificate, for engines that require one
	// (serve --tls-client-ca); both or neither.
	Cert, Key string
	// SNI is the server name Envoy sends and checks the engines' certificates
	// against; empty checks only the chain.
	SNI string
}

// Build returns the Envoy bootstrap for the engine configuration snap, checked with
// Envoy's own validation rules.
func Build(snap *core.Snapshot, opts Options) (*bootstrapv3.Bootstrap, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	upstreams := map[string]string{}
	var clusters []*clusterv3.Cluster
	engine, err := engineCluster(opts)
	if err != nil {
		return nil, err
	}
	clusters = append(clusters, engine)
	clusterFor := func(addr string) (string, error) {
		if name, ok := upstreams[addr]; ok {
			return name, nil
		}
		name := upstreamCluster
		if len(upstreams) > 0 {
			name += "_" + strconv.Itoa(len(upstreams)+1)
		}
		c, err := plainCluster(name, []string{addr})
		if err != nil {
			return "", err
		}
		c.TypedExtensionProtocolOptions = protocolOptions(&upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{
				HttpProtocolOptions: &corev3.Http1ProtocolOptions{EnableTrailers: true},
			},
		})
		upstreams[addr] = name
		clusters = append(clusters, c)
		return name, nil
	}
	var routes []*routev3.Route
	for _, r := range opts.Routes {
		addr := r.Upstream
		if addr == "" {
			addr = opts.Upstream
		}
		cluster, err := clusterFor(addr)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", r.Name, err)
		}
		route := &routev3.Route{
			Name:  r.Name,
			Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: r.Prefix}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster},
			}},
		}
		if c := ChainFor(snap, r.Name); c != nil && c.NeedsRequestBody() && opts.MaxBodyBytes > 0 {
			// Envoy buffers the body for the engine; past this it answers 413 itself.
			route.RequestBodyBufferLimit = wrapperspb.UInt64(opts.MaxBodyBytes)
		}
		routes = append(routes, route)
	}
	manager := &hcmv3.HttpConnectionManager{
		StatPrefix: ListenerName,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		// Envoy drops HTTP/1.1 trailers unless told otherwise; HTTP/2 keeps them.
		HttpProtocolOptions: &corev3.Http1ProtocolOptions{EnableTrailers: true},
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name: routeConfigName,
			VirtualHosts: []*routev3.VirtualHost{{
				Name:    "all",
				Domains: []string{"*"},
				Routes:  routes,
			}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{
			{Name: ExtProcFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(ExtProc(snap))}},
			{Name: routerFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})}},
		},
	}
	listenAddr, err := socketAddress(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	b := &bootstrapv3.Bootstrap{
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Listeners: []*listenerv3.Listener{{
				Name:    ListenerName,
				Address: listenAddr,
				FilterChains: []*listenerv3.FilterChain{{
					Filters: []*listenerv3.Filter{{
						Name:       hcmFilterName,
						ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(manager)},
					}},
				}},
			}},
			Clusters: clusters,
		},
	}
	if opts.Admin != "" {
		admin, err := socketAddress(opts.Admin)
		if err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		b.Admin = &bootstrapv3.Admin{Address: admin}
	}
	if err := Validate(b); err != nil {
		return nil, err
	}
	return b, nil
}

func (o Options) check() error {
	switch {
	case o.Listen == "":
		return errors.New("no listen address")
	case len(o.Engines) == 0:
		return errors.New("no engine address")
	case len(o.Routes) == 0:
		return errors.New("no route")
	case o.EngineTLS != nil && o.EngineTLS.CA == "":
		return errors.New("TLS to the engines needs the CA their certificates chain to")
	case o.EngineTLS != nil && (o.EngineTLS.Cert == "") != (o.EngineTLS.Key == ""):
		return errors.New("Envoy's client certificate for the engines needs both a certificate and a key file")
	}
	for _, r := range o.Routes {
		if r.Name == "" || !strings.HasPrefix(r.Prefix, "/") {
			return fmt.Errorf("route %q with prefix %q: want a name and a prefix starting with /", r.Name, r.Prefix)
		}
		if r.Upstream == "" && o.Upstream == "" {
			return fmt.Errorf("route %q has no upstream and there is no default upstream", r.Name)
		}
	}
	return nil
}

// ChainFor is the chain the engine runs for requests on an Envoy route named route,
// following the engine's own rule (the route's chain, else the default chain); nil
// when noRouteAction decides.
func ChainFor(snap *core.Snapshot, route string) *core.Chain {
	if c := snap.Chain(route); c != nil {
		return c
	}
	return snap.DefaultChain()
}

// ExtProc is the ext_proc filter configuration the engine relies on.
func ExtProc(snap *core.Snapshot) *extprocv3.ExternalProcessor {
	responses := false
	for _, r := range snap.Config.Routes {
		if c := snap.Chain(r.Name); c != nil && len(c.Response) > 0 {
			responses = true
		}
	}
	responseHeaders := extprocv3.ProcessingMode_SKIP
	if responses {
		// So the engine sees a response whose request body Envoy never sent (a
		// filter that ignored mode_override) and fails it instead of passing it.
		responseHeaders = extprocv3.ProcessingMode_SEND
	}
	attributes := []string{"xds.route_name", "source.address"}
	if snap.RouteMetadata() != nil {
		attributes = append(attributes, "xds.route_metadata")
	}
	rules := snap.MutationRules()
	return &extprocv3.ExternalProcessor{
		GrpcService: &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
			EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: EngineCluster},
		}},
		FailureModeAllow: false,
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			ResponseHeaderMode:  responseHeaders,
			RequestBodyMode:     extprocv3.ProcessingMode_NONE,
			ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		AllowModeOverride: true,
		RequestAttributes: attributes,
		MessageTimeout:    durationpb.New(snap.PhaseTimeout() + MessageTimeoutMargin),
		MutationRules: &mutationrulesv3.HeaderMutationRules{
			AllowAllRouting: wrapperspb.Bool(rules.AllowAllRouting),
			AllowEnvoy:      wrapperspb.Bool(rules.AllowEnvoy),
			DisallowIsError: wrapperspb.Bool(false),
		},
	}
}

// engineCluster speaks HTTP/2 (gRPC) to the engines, health-checks them over gRPC
// and never sends a stream to one that is not serving (no panic routing): an engine
// without a configuration, or draining, is skipped, and with none serving the filter
// fails closed.
func engineCluster(opts Options) (*clusterv3.Cluster, error) {
	c, err := plainCluster(EngineCluster, opts.Engines)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	c.TypedExtensionProtocolOptions = protocolOptions(&upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
		ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
			Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
		},
	})
	interval := opts.HealthCheckInterval
	if interval <= 0 {
		interval = DefaultHealthCheckInterval
	}
	c.HealthChecks = []*corev3.HealthCheck{{
		Timeout:            durationpb.New(time.Second),
		Interval:           durationpb.New(interval),
		NoTrafficInterval:  durationpb.New(interval),
		UnhealthyThreshold: wrapperspb.UInt32(1),
		HealthyThreshold:   wrapperspb.UInt32(1),
		HealthChecker:      &corev3.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &corev3.HealthCheck_GrpcHealthCheck{}},
	}}
	c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{HealthyPanicThreshold: &typev3.Percent{Value: 0}}
	if opts.EngineTLS != nil {
		c.TransportSocket = engineTLSSocket(opts.EngineTLS)
	}
	// Each ext_proc stream is one request to this cluster: Envoy's default limit of
	// 1024 at once would fail requests (closed) under load long before the engines
	// are busy.
	c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
		MaxRequests:        wrapperspb.UInt32(1 << 16),
		MaxPendingRequests: wrapperspb.UInt32(1 << 16),
	}}}
	return c, nil
}

// engineTLSSocket verifies the engines' certificates against the CA (and the SNI name
// when given) and offers Envoy's own certificate when one is configured; ALPN h2, as
// gRPC over TLS expects.
func engineTLSSocket(t *EngineTLS) *corev3.TransportSocket {
	file := func(path string) *corev3.DataSource {
		return &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: path}}
	}
	common := &tlsv3.CommonTlsContext{
		AlpnProtocols: []string{"h2"},
		ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{
			ValidationContext: &tlsv3.CertificateValidationContext{TrustedCa: file(t.CA)},
		},
	}
	if t.Cert != "" {
		common.TlsCertificates = []*tlsv3.TlsCertificate{{CertificateChain: file(t.Cert), PrivateKey: file(t.Key)}}
	}
	if t.SNI != "" {
		common.GetValidationContext().MatchTypedSubjectAltNames = []*tlsv3.SubjectAltNameMatcher{{
			SanType: tlsv3.SubjectAltNameMatcher_DNS,
			Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: t.SNI}},
		}}
	}
	return &corev3.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(&tlsv3.UpstreamTlsContext{CommonTlsContext: common, Sni: t.SNI})},
	}
}

func protocolOptions(explicit *upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig) map[string]*anypb.Any {
	return map[string]*anypb.Any{
		"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(&upstreamhttpv3.HttpProtocolOptions{
			UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: explicit},
		}),
	}
}

func plainCluster(name string, addrs []string) (*clusterv3.Cluster, error) {
	discovery := clusterv3.Cluster_STATIC
	var endpoints []*endpointv3.LbEndpoint
	for _, a := range addrs {
		sa, err := socketAddress(a)
		if err != nil {
			return nil, err
		}
		if net.ParseIP(sa.GetSocketAddress().GetAddress()) == nil {
			discovery = clusterv3.Cluster_STRICT_DNS
		}
		endpoints = append(endpoints, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{
			Endpoint: &endpointv3.Endpoint{Address: sa},
		}})
	}
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: discovery},
		ConnectTimeout:       durationpb.New(time.Second),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints:   []*endpointv3.LocalityLbEndpoints{{LbEndpoints: endpoints}},
		},
	}, nil
}

func socketAddress(hostport string) (*corev3.Address, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return nil, fmt.Errorf("%q: port must be 1-65535", hostport)
	}
	if host == "" {
		return nil, fmt.Errorf("%q: name the host (0.0.0.0 for every interface)", hostport)
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
	}}}, nil
}

// mustAny packs a message whose type is linked in; that cannot fail.
func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}
