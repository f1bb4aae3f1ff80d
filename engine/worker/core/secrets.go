package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/policy-engine-builder/policy-engine/pkg/redact"
	"github.com/policy-engine-builder/policy-engine/pkg/validation"
)

// Keys of a secret reference, {fromEnv: NAME} or {fromFile: PATH}. A reference is
// accepted only where a sensitive parameter's declaration says a string goes (a
// string or uri parameter, or an item of an array of them): there an object can
// never be a real value, so a reference cannot be mistaken for one (docs/security.md).
const (
	refEnv  = "fromEnv"
	refFile = "fromFile"
)

// secretRef is a parsed reference.
type secretRef struct{ kind, name string }

func (r secretRef) String() string { return r.kind + " " + r.name }

// asRef reports whether v is a reference: a mapping with exactly one key, fromEnv
// or fromFile, naming a non-empty string.
func asRef(v any) (secretRef, bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return secretRef{}, false, nil
	}
	for _, kind := range []string{refEnv, refFile} {
		raw, ok := m[kind]
		if !ok {
			continue
		}
		name, ok := raw.(string)
		if !ok || name == "" {
			return secretRef{}, true, fmt.Errorf("%s must name a non-empty string", kind)
		}
		return secretRef{kind: kind, name: name}, true, nil
	}
	return secretRef{}, false, nil
}

// secrets is what resolving one configuration's sensitive parameters found: the
// values (for the redaction set) and the files read, with a digest of each, so a
// change can be noticed.
type secrets struct {
	values []string
	files  map[string][sha256.Size]byte
}

func (s *secrets) addFile(path string, content []byte) {
	if s.files == nil {
		s.files = map[string][sha256.Size]byte{}
	}
	s.files[path] = sha256.Sum256(content)
}

// resolveSecrets returns params with every reference replaced by the secret it
// names and records each sensitive value in found. A reference that cannot be
// resolved (unset variable, unreadable or empty file) is an error naming the
// parameter: a policy never starts with an empty secret.
func resolveSecrets(spec *validation.Spec, params map[string]any, found *secrets) (map[string]any, error) {
	if len(params) == 0 {
		return params, nil
	}
	out := make(map[string]any, len(params))
	var errs []error
	for _, name := range sortedKeys(params) {
		value := params[name]
		decl := declaration(spec, name)
		switch {
		case decl == nil:
			out[name] = value // the schema reports the unknown parameter
		case !decl.Sensitive:
			if _, isRef, _ := asRef(value); isRef && stringSlot(decl.Type) {
				errs = append(errs, fmt.Errorf("parameter %q: a %s/%s reference is only accepted for sensitive parameters", name, refEnv, refFile))
				continue
			}
			out[name] = value
		default:
			resolved, err := resolveValue(decl, value, found)
			if err != nil {
				errs = append(errs, fmt.Errorf("parameter %q: %w", name, err))
				continue
			}
			out[name] = resolved
			found.values = append(found.values, stringLeaves(resolved)...)
		}
	}
	return out, errors.Join(errs...)
}

func resolveValue(decl *validation.Parameter, value any, found *secrets) (any, error) {
	switch {
	case stringSlot(decl.Type):
		return resolveString(value, found)
	case decl.Type == "array" && decl.Items != nil && stringSlot(decl.Items.Type):
		items, ok := value.([]any)
		if !ok {
			return value, nil // the schema reports the wrong type
		}
		out := make([]any, len(items))
		var errs []error
		for i, item := range items {
			v, err := resolveString(item, found)
			if err != nil {
				errs = append(errs, fmt.Errorf("item %d: %w", i, err))
			}
			out[i] = v
		}
		return out, errors.Join(errs...)
	}
	return value, nil
}

func resolveString(value any, found *secrets) (any, error) {
	ref, isRef, err := asRef(value)
	if err != nil || !isRef {
		return value, err
	}
	switch ref.kind {
	case refEnv:
		v, ok := os.LookupEnv(ref.name)
		if !ok {
			return nil, fmt.Errorf("environment variable %s (fromEnv) is not set", ref.name)
		}
		if v == "" {
			return nil, fmt.Errorf("environment variable %s (fromEnv) is empty", ref.name)
		}
		return v, nil
	default:
		content, err := os.ReadFile(ref.name)
		if err != nil {
			// The error names the path, never the content.
			return nil, fmt.Errorf("fromFile: %w", err)
		}
		found.addFile(ref.name, content)
		// Files written by editors and `echo` end in a newline that is no part of
		// the secret; Kubernetes secret volumes hold the bytes as given.
		v := strings.TrimSuffix(strings.TrimSuffix(string(content), "\n"), "\r")
		if v == "" {
			return nil, fmt.Errorf("fromFile %s is empty", ref.name)
		}
		return v, nil
	}
}

func stringSlot(typ string) bool { return typ == "string" || typ == "uri" }

func declaration(spec *validation.Spec, name string) *validation.Parameter {
	for i := range spec.Parameters {
		if spec.Parameters[i].Name == name {
			return &spec.Parameters[i]
		}
	}
	return nil
}

// stringLeaves returns every string inside v (map values, not keys).
func stringLeaves(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, item := range t {
			out = append(out, stringLeaves(item)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, item := range t {
			out = append(out, stringLeaves(item)...)
		}
		return out
	}
	return nil
}

// redactParams returns the parameters as the config dump shows them: every string
// of a sensitive parameter replaced by "[redacted] <fingerprint>", a reference kept
// as written with the fingerprint of the secret it resolved to under "value".
// resolved are the parameters after resolveSecrets.
func redactParams(spec *validation.Spec, params, resolved map[string]any) map[string]any {
	if params == nil {
		return nil
	}
	out := make(map[string]any, len(params))
	for name, value := range params {
		decl := declaration(spec, name)
		if decl == nil || !decl.Sensitive {
			out[name] = value
			continue
		}
		out[name] = redactValue(value, resolved[name])
	}
	return out
}

func redactValue(written, resolved any) any {
	if ref, isRef, _ := asRef(written); isRef {
		s, _ := resolved.(string)
		return map[string]any{ref.kind: ref.name, "value": redact.Redacted(s)}
	}
	switch t := written.(type) {
	case string:
		return redact.Redacted(t)
	case []any:
		res, _ := resolved.([]any)
		out := make([]any, len(t))
		for i, item := range t {
			var r any
			if i < len(res) {
				r = res[i]
			}
			out[i] = redactValue(item, r)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, item := range t {
			out[k] = redactValue(item, nil)
		}
		return out
	}
	return written
}

// redactedConfig is cfg with the parameters of instance j of route i replaced by
// params[i][j]; everything else is shared, being immutable.
func redactedConfig(cfg *Config, params [][]map[string]any) *Config {
	out := *cfg
	out.Routes = make([]RouteConfig, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		out.Routes[i] = rc
		out.Routes[i].Policies = make([]InstanceConfig, len(rc.Policies))
		for j, ic := range rc.Policies {
			ic.Parameters = params[i][j]
			out.Routes[i].Policies[j] = ic
		}
	}
	return &out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SecretFileWatcher re-applies the configuration in force when a file one of its
// references names changes, the way FileWatcher follows the config file itself. A
// file that disappears or empties makes the re-apply fail like any bad
// configuration: it is logged naming the parameter and the last good secret keeps
// serving.
type SecretFileWatcher struct {
	Store    *ConfigStore
	Interval time.Duration
	Logger   *slog.Logger

	// tried is the last snapshot version and file state re-applied, so a file that
	// stays broken is reported once, not on every tick.
	tried string
}

// Run polls until ctx is done.
func (w *SecretFileWatcher) Run(ctx context.Context) {
	poll(ctx, w.Interval, w.check)
}

func (w *SecretFileWatcher) check() {
	snap := w.Store.Current()
	if snap == nil || len(snap.secretFiles) == 0 {
		return
	}
	var state bytes.Buffer
	changed := false
	for _, path := range sortedFileKeys(snap.secretFiles) {
		content, err := os.ReadFile(path)
		sum := sha256.Sum256(content)
		if err != nil {
			fmt.Fprintf(&state, "%s:%v;", path, err)
		} else {
			fmt.Fprintf(&state, "%s:%x;", path, sum)
		}
		if err != nil || sum != snap.secretFiles[path] {
			changed = true
		}
	}
	key := fmt.Sprintf("%d/%s", snap.Version, state.String())
	if !changed || key == w.tried {
		return
	}
	w.tried = key
	w.Logger.Info("a secret file changed, reloading the configuration", "source", snap.Source)
	// Refresh logs and counts a rejection itself.
	_ = w.Store.Refresh(snap)
}

func sortedFileKeys(m map[string][sha256.Size]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
