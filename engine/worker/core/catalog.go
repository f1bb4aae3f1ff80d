package core

import (
	"fmt"

	"github.com/policy-engine-builder/policy-engine/pkg/validation"
)

// CatalogEntry is a registered definition with its policy.yaml parsed and its
// parameter schema compiled, done once per process.
type CatalogEntry struct {
	Definition PolicyDefinition
	Spec       *validation.Spec
	Schema     *validation.ParameterSchema
	// Err is why the definition cannot be used (bad or mismatched policy.yaml).
	Err error
}

// Catalog is the compiled view of a registry, keyed by "name:version".
type Catalog struct {
	entries map[string]*CatalogEntry
	order   []string
}

// NewCatalog compiles every definition of reg.
func NewCatalog(reg *Registry) *Catalog {
	c := &Catalog{entries: map[string]*CatalogEntry{}}
	for _, def := range reg.All() {
		c.entries[def.Key()] = compileEntry(def)
		c.order = append(c.order, def.Key())
	}
	return c
}

func compileEntry(def PolicyDefinition) *CatalogEntry {
	entry := &CatalogEntry{Definition: def}
	spec, err := validation.ParseSpec(def.Spec)
	if err != nil {
		entry.Err = err
		return entry
	}
	if spec.Name != def.Name || spec.Version != def.Version {
		entry.Err = fmt.Errorf("registered as %s but its policy.yaml says %s:%s", def.Key(), spec.Name, spec.Version)
		return entry
	}
	entry.Spec = spec
	entry.Schema, entry.Err = validation.CompileSchema(spec)
	return entry
}

// Lookup finds an entry by name and version.
func (c *Catalog) Lookup(name, version string) (*CatalogEntry, bool) {
	e, ok := c.entries[name+":"+version]
	return e, ok
}

// Entries returns every entry, sorted by name then version.
func (c *Catalog) Entries() []*CatalogEntry {
	out := make([]*CatalogEntry, len(c.order))
	for i, key := range c.order {
		out[i] = c.entries[key]
	}
	return out
}
