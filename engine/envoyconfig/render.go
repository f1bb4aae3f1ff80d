package envoyconfig

import (
	"bytes"
	"fmt"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	"github.com/policy-engine-builder/policy-engine/worker/core"
)

// Render writes b as YAML for Envoy's --config-path: field names as in Envoy's
// documentation, fields in declaration order (so equal input gives equal bytes),
// header as the leading comment, and comments that say why the settings the engine
// relies on are what they are, and which chain each route runs.
func Render(b *bootstrapv3.Bootstrap, snap *core.Snapshot, header string) ([]byte, error) {
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	block(&doc)
	annotate(&doc, snap)
	doc.HeadComment = strings.TrimRight(header, "\n")
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// block turns JSON's flow style into YAML block style and drops needless quotes.
func block(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		block(c)
	}
}

// annotate puts comments on the keys of the ext_proc filter, the engine cluster and
// each route.
func annotate(n *yaml.Node, snap *core.Snapshot) {
	if n.Kind == yaml.MappingNode {
		switch {
		case strings.HasSuffix(value(n, "@type"), ".ext_proc.v3.ExternalProcessor"):
			// proto3 leaves a false out; this one the reader must see.
			insertAfter(n, "grpc_service", "failure_mode_allow", "false")
			comment(n, "failure_mode_allow", "Fail closed: an engine that is down, unreachable or too slow must not let\nrequests through unchecked (500, or 504 on a timeout).")
			comment(n, "processing_mode", "Request headers only by default: a chain that needs more (bodies, the\nresponse) asks for it per request through mode_override.")
			comment(n, "request_attributes", "xds.route_name selects the engine's chain; source.address is the client.")
			comment(n, "message_timeout", fmt.Sprintf("The engine's phaseTimeout (%s) plus %s: the engine answers first, even\nwhen a policy runs out of time.", snap.PhaseTimeout(), MessageTimeoutMargin))
			comment(n, "mutation_rules", "As the engine's mutationRules: it withholds the header changes Envoy would\nignore.")
		case value(n, "name") == EngineCluster && hasKey(n, "load_assignment"):
			comment(n, "typed_extension_protocol_options", "ext_proc is gRPC: HTTP/2 to the engines.")
			comment(n, "health_checks", "The engine's gRPC health: NOT_SERVING until it has a configuration and\nfrom the start of a drain.")
			comment(n, "common_lb_config", "Never send a stream to an engine that is not serving (no panic routing).")
		case hasKey(n, "match") && hasKey(n, "name"):
			n.HeadComment = routeNote(snap, value(n, "name"))
		}
	}
	for _, c := range n.Content {
		annotate(c, snap)
	}
}

func routeNote(snap *core.Snapshot, route string) string {
	if c := snap.Chain(route); c != nil {
		return "Engine chain " + route + ": " + chainText(c)
	}
	if c := snap.DefaultChain(); c != nil {
		return "No chain of its own: the engine runs defaultRoute " + c.Route + ": " + chainText(c)
	}
	if snap.AllowNoRoute() {
		return "No chain: passes unchecked (noRouteAction: allow)."
	}
	return "No chain: the engine denies every request (403, noRouteAction: deny)."
}

func chainText(c *core.Chain) string {
	keys := func(list []*core.Instance) string {
		var out []string
		for _, inst := range list {
			out = append(out, inst.Key)
		}
		return strings.Join(out, ", ")
	}
	switch {
	case len(c.Request) == 0 && len(c.Response) == 0:
		return "no policies."
	case len(c.Response) == 0:
		return keys(c.Request) + "."
	}
	return keys(c.Request) + "; on the response " + keys(c.Response) + "."
}

func value(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1].Value
		}
	}
	return ""
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

// insertAfter adds key: val (a scalar) to m after the key after.
func insertAfter(m *yaml.Node, after, key, val string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == after {
			kv := []*yaml.Node{{Kind: yaml.ScalarNode, Value: key}, {Kind: yaml.ScalarNode, Value: val}}
			m.Content = append(m.Content[:i+2], append(kv, m.Content[i+2:]...)...)
			return
		}
	}
}

func comment(m *yaml.Node, key, text string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i].HeadComment = text
		}
	}
}
