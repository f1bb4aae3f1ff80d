package transformheaders

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// params are the instance parameters as policy.yaml declares them. policy.yaml can
// only say they are objects; DecodeParams refuses unknown keys and wrong types in
// them, and parsePhase checks the names and templates.
type params struct {
	Request  changes `param:"request"`
	Response changes `param:"response"`
}

type changes struct {
	Set    map[string]string `param:"set"`
	Add    map[string]string `param:"add"`
	Remove []string          `param:"remove"`
	Rename map[string]string `param:"rename"`
}

// phase is the parsed changes of one phase; immutable.
type phase struct {
	set, add []templated
	remove   []string
	rename   []renaming
}

type templated struct {
	name  string
	value template
}

type renaming struct{ from, to string }

func (p *phase) empty() bool {
	return len(p.set) == 0 && len(p.add) == 0 && len(p.remove) == 0 && len(p.rename) == 0
}

func parseConfig(raw map[string]interface{}) (req, resp *phase, err error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, nil, err
	}
	if req, err = parsePhase("request", p.Request); err != nil {
		return nil, nil, err
	}
	if resp, err = parsePhase("response", p.Response); err != nil {
		return nil, nil, err
	}
	if req.empty() && resp.empty() {
		return nil, nil, fmt.Errorf("parameters %q and %q: no header change configured", "request", "response")
	}
	return req, resp, nil
}

// parsePhase checks one phase's changes. A header may appear in one change only,
// because the engine applies a phase's removals, sets and appends in a fixed order
// and a name in two of them would make the outcome depend on that order.
func parsePhase(param string, c changes) (*phase, error) {
	out := &phase{}
	owner := map[string]string{}
	claim := func(kind, name string) (string, error) {
		lower := strings.ToLower(name)
		if err := policies.CheckHeaderChange(lower); err != nil {
			return "", fmt.Errorf("parameter %q: %s: header %q: %w", param, kind, name, err)
		}
		if prev, dup := owner[lower]; dup {
			return "", fmt.Errorf("parameter %q: header %q appears in both %s and %s (names are case-insensitive); use one change per header", param, name, prev, kind)
		}
		owner[lower] = kind
		return lower, nil
	}
	for _, kind := range []string{"set", "add"} {
		m := c.Set
		if kind == "add" {
			m = c.Add
		}
		for _, name := range slices.Sorted(maps.Keys(m)) {
			lower, err := claim(kind, name)
			if err != nil {
				return nil, err
			}
			tpl, err := parseTemplate(m[name])
			if err != nil {
				return nil, fmt.Errorf("parameter %q: %s: header %q: %w", param, kind, name, err)
			}
			if kind == "set" {
				out.set = append(out.set, templated{lower, tpl})
			} else {
				out.add = append(out.add, templated{lower, tpl})
			}
		}
	}
	for _, name := range c.Remove {
		lower, err := claim("remove", name)
		if err != nil {
			return nil, err
		}
		out.remove = append(out.remove, lower)
	}
	for _, from := range slices.Sorted(maps.Keys(c.Rename)) {
		lowerFrom, err := claim("rename", from)
		if err != nil {
			return nil, err
		}
		lowerTo, err := claim("rename", c.Rename[from])
		if err != nil {
			return nil, err
		}
		out.rename = append(out.rename, renaming{lowerFrom, lowerTo})
	}
	return out, nil
}
