package core

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/policy-engine-builder/policy-engine/pkg/cel"
	"github.com/policy-engine-builder/policy-engine/pkg/validation"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// DefaultPolicyTimeout is an instance's deadline when neither the instance, its
// policy.yaml nor the config's policyTimeout says otherwise. It keeps a chain well
// inside Envoy's default 200 ms message timeout.
const DefaultPolicyTimeout = 100 * time.Millisecond

// DefaultPhaseTimeout bounds the policies of one Envoy message together: just under
// Envoy's default 200 ms message_timeout.
const DefaultPhaseTimeout = 180 * time.Millisecond

// buildSnapshot validates every route and instance of cfg and instantiates the
// policies. It reports every problem found, not just the first.
// Instances built for a configuration that is then rejected are closed here.
// found receives the sensitive values and secret files, even of a rejected
// configuration, so that its error messages can be scrubbed.
func buildSnapshot(cfg *Config, pos *position, catalog *Catalog, logger *slog.Logger, found *secrets) (*Snapshot, error) {
	var errs []error
	snap := &Snapshot{Config: cfg, chains: map[string]*Chain{}}
	redacted := make([][]map[string]any, len(cfg.Routes))

	switch cfg.NoRouteAction {
	case "", "deny":
	case "allow":
		snap.allowNoRoute = true
	default:
		errs = append(errs, fmt.Errorf("%s: noRouteAction %q must be deny or allow", pos.sourceName(), cfg.NoRouteAction))
	}
	timeout := DefaultPolicyTimeout
	if cfg.PolicyTimeout != "" {
		d, err := parseTimeout(cfg.PolicyTimeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: policyTimeout: %w", pos.sourceName(), err))
		}
		timeout = d
	}
	snap.phaseTimeout = DefaultPhaseTimeout
	if cfg.PhaseTimeout != "" {
		d, err := parseTimeout(cfg.PhaseTimeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: phaseTimeout: %w", pos.sourceName(), err))
		}
		snap.phaseTimeout = d
	}
	if md := cfg.RouteMetadata; md != nil && (md.Namespace == "" || md.Key == "") {
		errs = append(errs, fmt.Errorf("%s: routeMetadata needs a namespace and a key", pos.sourceName()))
	}

	for i, rc := range cfg.Routes {
		where := pos.route(i)
		if rc.Name == "" {
			errs = append(errs, fmt.Errorf("%s: route %d has no name", where, i))
			continue
		}
		if _, dup := snap.chains[rc.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: route %q defined twice", where, rc.Name))
			continue
		}
		chain := &Chain{Route: rc.Name, FailOpen: rc.FailOpen}
		redacted[i] = make([]map[string]any, len(rc.Policies))
		for j, ic := range rc.Policies {
			inst, err := buildInstance(rc.Name, j, ic, timeout, catalog, logger, found)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", pos.policy(i, j), err))
				continue
			}
			redacted[i][j] = inst.dumpParams
			snap.instances = append(snap.instances, inst)
			if !ic.IsEnabled() {
				continue
			}
			if inst.Request != nil {
				chain.Request = append(chain.Request, inst)
			}
			if inst.Response != nil {
				chain.Response = append(chain.Response, inst)
			}
		}
		chain.RequestBodyFrom = firstIndex(chain.Request, func(in *Instance) bool { return in.RequiresRequestBody })
		chain.ResponseBodyFrom = firstIndex(chain.Response, func(in *Instance) bool { return in.RequiresResponseBody })
		snap.chains[rc.Name] = chain
	}

	if cfg.DefaultRoute != "" {
		snap.defaultChain = snap.chains[cfg.DefaultRoute]
		if snap.defaultChain == nil {
			errs = append(errs, fmt.Errorf("%s: defaultRoute %q is not a configured route", pos.sourceName(), cfg.DefaultRoute))
		}
	}
	if len(errs) > 0 {
		closeInstances(snap.instances, logger)
		return nil, errors.Join(errs...)
	}
	snap.Redacted = redactedConfig(cfg, redacted)
	return snap, nil
}

func firstIndex(list []*Instance, pred func(*Instance) bool) int {
	for i, in := range list {
		if pred(in) {
			return i
		}
	}
	return len(list)
}

func buildInstance(route string, index int, ic InstanceConfig, defaultTimeout time.Duration, catalog *Catalog, logger *slog.Logger, found *secrets) (*Instance, error) {
	label := fmt.Sprintf("route %q policy %s", route, ic.Key())
	if ic.Name == "" || ic.Version == "" {
		return nil, fmt.Errorf("route %q policy %d: name and version are required", route, index)
	}
	entry, ok := catalog.Lookup(ic.Name, ic.Version)
	if !ok {
		return nil, fmt.Errorf("%s: not compiled into this engine (available: %s)", label, availableVersions(catalog, ic.Name))
	}
	if entry.Err != nil {
		return nil, fmt.Errorf("%s: %w", label, entry.Err)
	}
	// References are resolved before validation: the schema checks the secret,
	// not the reference.
	resolved, err := resolveSecrets(entry.Spec, ic.Parameters, found)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	params, err := entry.Schema.Validate(resolved)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	inst := &Instance{
		Name: ic.Name, Version: ic.Version, Key: ic.Key(), Route: route, Index: index,
		Params:               params,
		dumpParams:           redactParams(entry.Spec, ic.Parameters, resolved),
		Timeout:              defaultTimeout,
		RequiresRequestBody:  entry.Spec.RequiresRequestBody,
		RequiresResponseBody: entry.Spec.RequiresResponseBody,
	}
	if d := entry.Spec.DefaultTimeout(); d > 0 {
		inst.Timeout = d
	}
	if ic.Timeout != "" {
		if inst.Timeout, err = parseTimeout(ic.Timeout); err != nil {
			return nil, fmt.Errorf("%s: timeout: %w", label, err)
		}
	}
	if ic.When != "" {
		if inst.When, err = cel.Compile(ic.When); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
	}
	policy, err := instantiate(entry.Definition, policies.PolicyMetadata{
		Name: ic.Name, Version: ic.Version, Route: route, Index: index,
	}, params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	inst.Policy = policy
	if err := inst.bindPhases(entry.Spec); err != nil {
		closeInstances([]*Instance{inst}, logger)
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return inst, nil
}

// bindPhases sets the phase implementations of inst.Policy that its policy.yaml
// declares.
func (inst *Instance) bindPhases(spec *validation.Spec) error {
	if spec.RequestPhase() {
		rp, ok := inst.Policy.(policies.RequestPolicy)
		if !ok {
			return errors.New("policy.yaml declares the request phase but the policy does not implement RequestPolicy")
		}
		inst.Request = rp
	}
	if spec.ResponsePhase() {
		rp, ok := inst.Policy.(policies.ResponsePolicy)
		if !ok {
			return errors.New("policy.yaml declares the response phase but the policy does not implement ResponsePolicy")
		}
		skip, err := skipsResponse(inst.Policy)
		if err != nil {
			return err
		}
		if !skip {
			inst.Response = rp
		}
	}
	return nil
}

// skipsResponse asks a policy that may have nothing to do on responses; a panic in
// that user code rejects the configuration like one in its factory.
func skipsResponse(policy policies.Policy) (skip bool, err error) {
	s, ok := policy.(policies.ResponsePhaseSkipper)
	if !ok {
		return false, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("SkipResponsePhase panicked: %v", r)
		}
	}()
	return s.SkipResponsePhase(), nil
}

// instantiate calls the policy's factory and Validate, turning a panic in user
// code into an error so a bad policy cannot take the engine down at load time.
func instantiate(def PolicyDefinition, md policies.PolicyMetadata, params map[string]any) (p policies.Policy, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("panic while instantiating: %v", r)
		}
	}()
	p, err = def.Factory(md, params)
	if err != nil {
		return nil, fmt.Errorf("policy factory (GetPolicy): %w", err)
	}
	if p == nil {
		return nil, errors.New("policy factory (GetPolicy) returned no policy")
	}
	if err := p.Validate(params); err != nil {
		if c, ok := p.(policies.Closer); ok {
			_ = safeClose(c)
		}
		return nil, fmt.Errorf("policy rejected its parameters (Validate): %w", err)
	}
	return p, nil
}

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q must be a positive duration such as 100ms", s)
	}
	return d, nil
}

func availableVersions(c *Catalog, name string) string {
	var out string
	for _, e := range c.Entries() {
		if e.Definition.Name == name {
			if out != "" {
				out += ", "
			}
			out += e.Definition.Version
		}
	}
	if out == "" {
		return "no version of " + name
	}
	return out
}
