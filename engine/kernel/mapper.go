// Package kernel is the engine's ext_proc side: it maps each request to its route's
// policy chain, runs the chain phase by phase and translates the outcome into
// ext_proc responses.
package kernel

import (
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/policy-engine-builder/policy-engine/worker/core"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Attribute names and the key Envoy files the ext_proc filter's attributes under.
const (
	filterAttributesKey = "envoy.filters.http.ext_proc"
	attrRouteName       = "xds.route_name"
	attrRouteMetadata   = "xds.route_metadata"
	attrSourceAddress   = "source.address"
)

// requestAttributes are the attributes Envoy sent with the request headers.
type requestAttributes struct {
	routeName string
	// routeMetadata is the text-format envoy.config.core.v3.Metadata of the route.
	routeMetadata string
	sourceAddress string
	// all holds every scalar attribute as a string, for RequestContext.Attributes.
	all map[string]string
}

// readAttributes extracts the filter's attributes. Current Envoy sends them on the
// ProcessingRequest; older versions put them on HttpHeaders, still read as a fallback.
func readAttributes(req *extprocv3.ProcessingRequest) requestAttributes {
	attrs := req.GetAttributes()[filterAttributesKey]
	if attrs == nil {
		//lint:ignore SA1019 read only as a fallback for Envoys that still send it here
		attrs = req.GetRequestHeaders().GetAttributes()[filterAttributesKey]
	}
	out := requestAttributes{all: make(map[string]string, len(attrs.GetFields()))}
	for name, v := range attrs.GetFields() {
		s, ok := scalarString(v)
		if !ok {
			continue
		}
		out.all[name] = s
		switch name {
		case attrRouteName:
			out.routeName = s
		case attrRouteMetadata:
			out.routeMetadata = s
		case attrSourceAddress:
			out.sourceAddress = s
		}
	}
	return out
}

func scalarString(v *structpb.Value) (string, bool) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return k.StringValue, true
	case *structpb.Value_NumberValue:
		return strconv.FormatFloat(k.NumberValue, 'f', -1, 64), true
	case *structpb.Value_BoolValue:
		return strconv.FormatBool(k.BoolValue), true
	}
	return "", false
}

// Ways a chain is chosen, for logs.
const (
	matchedRouteName     = "route_name"
	matchedRouteMetadata = "route_metadata"
	matchedDefault       = "default"
)

// selectChain picks the chain: the route name first, then the configured route
// metadata value (from the route metadata attribute or the request's
// metadata_context), then the default route. nil means no chain applies.
func selectChain(snap *core.Snapshot, attrs requestAttributes, mdCtx *corev3.Metadata) (*core.Chain, string) {
	if c := snap.Chain(attrs.routeName); c != nil && attrs.routeName != "" {
		return c, matchedRouteName
	}
	if md := snap.RouteMetadata(); md != nil {
		if name := metadataString(attrs.routeMetadata, mdCtx, md); name != "" {
			if c := snap.Chain(name); c != nil {
				return c, matchedRouteMetadata
			}
		}
	}
	if c := snap.DefaultChain(); c != nil {
		return c, matchedDefault
	}
	return nil, ""
}

func metadataString(prototextMD string, mdCtx *corev3.Metadata, where *core.RouteMetadataConfig) string {
	if prototextMD != "" {
		var md corev3.Metadata
		if err := prototext.Unmarshal([]byte(prototextMD), &md); err == nil {
			if s := md.GetFilterMetadata()[where.Namespace].GetFields()[where.Key].GetStringValue(); s != "" {
				return s
			}
		}
	}
	return mdCtx.GetFilterMetadata()[where.Namespace].GetFields()[where.Key].GetStringValue()
}

// headersOf reads Envoy's header map; a raw_value (what Envoy sends) wins over value.
func headersOf(hm *corev3.HeaderMap) policies.Headers {
	headers := hm.GetHeaders()
	return policies.HeadersFromPairs(len(headers), func(i int) (string, string) {
		h := headers[i]
		if raw := h.GetRawValue(); len(raw) > 0 {
			return h.GetKey(), string(raw)
		}
		return h.GetKey(), h.GetValue()
	})
}
