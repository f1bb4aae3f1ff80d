package transformjson

import (
	"encoding/json"
	"fmt"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// params are the instance parameters as policy.yaml declares them. policy.yaml can
// only say the changes are objects; DecodeParams refuses unknown keys and wrong types
// in them, and parseChanges checks the rest.
type params struct {
	Request  []change `param:"request"`
	Response []change `param:"response"`
	NonJSON  string   `param:"nonJson"`
}

type change struct {
	Op    string      `param:"op"`
	Path  string      `param:"path"`
	From  string      `param:"from"`
	Value interface{} `param:"value"`
}

// config is the parsed form of one instance's parameters; immutable.
type config struct {
	request, response patch
	rejectNonJSON     bool
}

// patch is one phase's changes as a JSON Patch: whole, and one change at a time for
// when the whole does not apply (see apply).
type patch struct {
	all jsonpatch.Patch
	ops []step
}

// step is one change. fallback, for a rename, is tried when the move fails: it first
// adds a placeholder at the target, which creates missing parent objects (a JSON Patch
// move does not), then moves. As one patch it applies whole or not at all, so when the
// source is missing no placeholder is left behind.
type step struct {
	primary, fallback jsonpatch.Patch
}

func (p patch) empty() bool { return len(p.ops) == 0 }

func parseConfig(raw map[string]interface{}) (*config, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	if len(p.Request) == 0 && len(p.Response) == 0 {
		return nil, fmt.Errorf("parameters %q and %q: no change configured", "request", "response")
	}
	cfg := &config{rejectNonJSON: p.NonJSON == "reject"}
	var err error
	if cfg.request, err = parseChanges("request", p.Request, raw["request"]); err != nil {
		return nil, err
	}
	if cfg.response, err = parseChanges("response", p.Response, raw["response"]); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseChanges turns the changes into JSON Patch operations: set is "add" (which
// replaces an existing member), remove is "remove", rename is "move". raw is the
// undecoded list, read only to tell a set without value from a set to null.
func parseChanges(param string, changes []change, raw interface{}) (patch, error) {
	items, _ := raw.([]interface{})
	var ops []map[string]interface{}
	for i, c := range changes {
		at := func(format string, args ...interface{}) error {
			return fmt.Errorf("parameter %q: item %d: %s", param, i, fmt.Sprintf(format, args...))
		}
		if err := checkPointer(c.Path); err != nil {
			return patch{}, at("path %q: %v", c.Path, err)
		}
		_, hasValue := items[i].(map[string]interface{})["value"]
		switch c.Op {
		case "set":
			if !hasValue {
				return patch{}, at("set needs a value (null is a value: write value: null)")
			}
			if c.From != "" {
				return patch{}, at("set takes no from")
			}
			ops = append(ops, map[string]interface{}{"op": "add", "path": c.Path, "value": c.Value})
		case "remove":
			if hasValue || c.From != "" {
				return patch{}, at("remove takes only a path")
			}
			ops = append(ops, map[string]interface{}{"op": "remove", "path": c.Path})
		case "rename":
			if hasValue {
				return patch{}, at("rename takes no value")
			}
			if err := checkPointer(c.From); err != nil {
				return patch{}, at("from %q: %v", c.From, err)
			}
			if c.From == c.Path || strings.HasPrefix(c.Path, c.From+"/") {
				return patch{}, at("cannot rename %q to itself or into itself (%q)", c.From, c.Path)
			}
			ops = append(ops, map[string]interface{}{"op": "move", "from": c.From, "path": c.Path})
		default:
			return patch{}, at("op %q: want set, remove or rename", c.Op)
		}
	}
	var out patch
	var err error
	if out.all, err = decode(ops); err != nil {
		return patch{}, fmt.Errorf("parameter %q: %w", param, err)
	}
	for _, op := range ops {
		var st step
		if st.primary, err = decode([]map[string]interface{}{op}); err != nil {
			return patch{}, fmt.Errorf("parameter %q: %w", param, err)
		}
		if op["op"] == "move" {
			placeholder := map[string]interface{}{"op": "add", "path": op["path"], "value": nil}
			if st.fallback, err = decode([]map[string]interface{}{placeholder, op}); err != nil {
				return patch{}, fmt.Errorf("parameter %q: %w", param, err)
			}
		}
		out.ops = append(out.ops, st)
	}
	return out, nil
}

func decode(ops []map[string]interface{}) (jsonpatch.Patch, error) {
	doc, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	return jsonpatch.DecodePatch(doc)
}

// checkPointer accepts a JSON pointer (RFC 6901) to a member or element, not the
// whole document: "/a/b", "/items/0", "/a~1b" (the key "a/b").
func checkPointer(p string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("want a JSON pointer to a field, such as /user/name")
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '~' && (i+1 == len(p) || (p[i+1] != '0' && p[i+1] != '1')) {
			return fmt.Errorf("~ must be followed by 0 (~) or 1 (/)")
		}
	}
	return nil
}
