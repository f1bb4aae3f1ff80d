package core

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/policy-engine-builder/policy-engine/pkg/cel"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Snapshot is one validated configuration, immutable once built; streams keep the
// snapshot they started with while newer ones are swapped in.
type Snapshot struct {
	Version  uint64
	Source   string
	LoadedAt time.Time
	// Config is the configuration as parsed: for /config_dump, and the settings
	// the accessors below read as they are (routeMetadata, mutationRules).
	Config *Config
	// Redacted is Config as the config dump shows it: sensitive parameter values
	// replaced by "[redacted] <fingerprint>" (docs/security.md).
	Redacted *Config

	// raw is the document Config was parsed from, re-applied when a secret file
	// changes; secretFiles are the files its references read, with their digests.
	raw         []byte
	secretFiles map[string][32]byte

	chains map[string]*Chain
	// instances holds every instance built, disabled ones too, for retirement.
	instances    []*Instance
	defaultChain *Chain
	allowNoRoute bool
	phaseTimeout time.Duration
}

// Chain returns the chain of route, or nil.
func (s *Snapshot) Chain(route string) *Chain { return s.chains[route] }

// DefaultChain returns the chain for unknown routes, or nil.
func (s *Snapshot) DefaultChain() *Chain { return s.defaultChain }

// AllowNoRoute reports whether a request without any chain may pass.
func (s *Snapshot) AllowNoRoute() bool { return s.allowNoRoute }

// RouteMetadata returns where route metadata names a chain, or nil.
func (s *Snapshot) RouteMetadata() *RouteMetadataConfig { return s.Config.RouteMetadata }

// PhaseTimeout bounds the policies run for one Envoy message together.
func (s *Snapshot) PhaseTimeout() time.Duration { return s.phaseTimeout }

// MutationRules returns which Envoy-protected headers may be changed.
func (s *Snapshot) MutationRules() MutationRules { return s.Config.MutationRules }

// Chain is the ordered, enabled policy instances of one route, split by phase.
type Chain struct {
	Route    string
	FailOpen bool
	Request  []*Instance
	Response []*Instance
	// RequestBodyFrom is the index in Request of the first instance that needs the
	// request body (len(Request) when none does): the instances before it run on
	// request headers, the rest once the body has arrived. ResponseBodyFrom likewise.
	RequestBodyFrom  int
	ResponseBodyFrom int
}

// NeedsRequestBody reports whether Envoy must send the request body.
func (c *Chain) NeedsRequestBody() bool { return c.RequestBodyFrom < len(c.Request) }

// NeedsResponseBody reports whether Envoy must send the response body.
func (c *Chain) NeedsResponseBody() bool { return c.ResponseBodyFrom < len(c.Response) }

// Instance is one configured policy instance, ready to run.
type Instance struct {
	Name, Version string
	// Key is "name:version", the metrics and log label.
	Key   string
	Route string
	Index int
	// Params are the validated parameters, defaults filled in, references resolved.
	Params map[string]any
	// dumpParams are the parameters as configured, sensitive values redacted.
	dumpParams map[string]any
	When       *cel.Condition
	Timeout    time.Duration

	Policy   policies.Policy
	Request  policies.RequestPolicy
	Response policies.ResponsePolicy

	RequiresRequestBody, RequiresResponseBody bool
}

// retire closes the instances whose policies hold resources (policies.Closer).
func (s *Snapshot) retire(logger *slog.Logger) {
	closeInstances(s.instances, logger)
}

func closeInstances(instances []*Instance, logger *slog.Logger) {
	for _, inst := range instances {
		closer, ok := inst.Policy.(policies.Closer)
		if !ok {
			continue
		}
		if err := safeClose(closer); err != nil {
			logger.Warn("closing a retired policy instance failed", "route", inst.Route, "policy", inst.Key, "error", err)
		}
	}
}

func safeClose(c policies.Closer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("close panicked: %v", r)
		}
	}()
	return c.Close()
}
