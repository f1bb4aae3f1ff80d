package core

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// position maps config elements to the line they start on, for error messages.
type position struct {
	source   string
	routes   []int
	policies [][]int
}

// ParseConfig decodes a config strictly: unknown fields, duplicate keys and
// trailing documents are errors. JSON is accepted too, being YAML.
func ParseConfig(raw []byte, source string) (*Config, *position, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: empty configuration", source)
		}
		return nil, nil, fmt.Errorf("%s: %w", source, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: more than one YAML document", source)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", source, err)
	}
	return &cfg, positions(&root, source), nil
}

func positions(root *yaml.Node, source string) *position {
	pos := &position{source: source}
	routes := mappingValue(documentBody(root), "routes")
	if routes == nil || routes.Kind != yaml.SequenceNode {
		return pos
	}
	for _, route := range routes.Content {
		pos.routes = append(pos.routes, route.Line)
		var lines []int
		if pols := mappingValue(route, "policies"); pols != nil && pols.Kind == yaml.SequenceNode {
			for _, p := range pols.Content {
				lines = append(lines, p.Line)
			}
		}
		pos.policies = append(pos.policies, lines)
	}
	return pos
}

func documentBody(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0]
	}
	return n
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// route returns "source:line" of route i, or just the source.
func (p *position) route(i int) string {
	if p != nil && i < len(p.routes) {
		return fmt.Sprintf("%s:%d", p.source, p.routes[i])
	}
	return p.sourceName()
}

// policy returns "source:line" of policy j of route i, or just the source.
func (p *position) policy(i, j int) string {
	if p != nil && i < len(p.policies) && j < len(p.policies[i]) {
		return fmt.Sprintf("%s:%d", p.source, p.policies[i][j])
	}
	return p.sourceName()
}

func (p *position) sourceName() string {
	if p == nil {
		return "config"
	}
	return p.source
}
