// Package core holds the engine's policy registry, executor and configuration loader.
package core

import (
	"fmt"
	"sort"
	"sync"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// PolicyDefinition is one compiled-in policy version. The builder generates one
// Register call per discovered policy (plugin_registry.go).
type PolicyDefinition struct {
	Name    string
	Version string
	// Factory is the policy package's GetPolicy function.
	Factory policies.Factory
	// Spec is the policy's policy.yaml, embedded at build time; the engine validates
	// instance parameters against its parameter schema.
	Spec []byte
	// GoModule is the policy's Go module path.
	GoModule string
	// SourcePath is the policy directory relative to the policies root (never absolute).
	SourcePath string
}

// Key returns "name:version".
func (d PolicyDefinition) Key() string { return d.Name + ":" + d.Version }

// Registry holds the compiled-in policy definitions.
type Registry struct {
	mu   sync.RWMutex
	defs map[string]PolicyDefinition
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{defs: map[string]PolicyDefinition{}}
}

var globalRegistry = NewRegistry()

// GetGlobalRegistry returns the registry that generated code registers into.
func GetGlobalRegistry() *Registry { return globalRegistry }

// Register adds a definition; a second definition with the same name:version is an error.
func (r *Registry) Register(def PolicyDefinition) error {
	if def.Name == "" || def.Version == "" {
		return fmt.Errorf("policy definition needs a name and a version (got %q:%q)", def.Name, def.Version)
	}
	if def.Factory == nil {
		return fmt.Errorf("policy %s has no factory", def.Key())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.defs[def.Key()]; dup {
		return fmt.Errorf("policy %s registered twice", def.Key())
	}
	r.defs[def.Key()] = def
	return nil
}

// All returns every definition sorted by name, then version.
func (r *Registry) All() []PolicyDefinition {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]PolicyDefinition, 0, len(r.defs))
	for _, def := range r.defs {
		out = append(out, def)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// Keys returns "name:version" of every definition, sorted.
func (r *Registry) Keys() []string {
	defs := r.All()
	keys := make([]string, len(defs))
	for i, def := range defs {
		keys[i] = def.Key()
	}
	return keys
}
