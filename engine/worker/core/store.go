package core

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/policy-engine-builder/policy-engine/pkg/redact"
)

// ReloadObserver is told about every configuration attempt (metrics).
type ReloadObserver interface {
	ConfigApplied(version uint64)
	ConfigRejected(source string)
}

// ConfigStore holds the current configuration snapshot. Apply validates a whole new
// configuration and swaps it in atomically; an invalid one is rejected as a whole
// and the last good snapshot keeps serving. It is the single entry point for every
// configuration source (file, file watcher, xDS).
type ConfigStore struct {
	catalog  *Catalog
	logger   *slog.Logger
	observer ReloadObserver
	// secrets collects every sensitive value loaded, so that error messages (and the
	// log handler serve wraps around it) can scrub them.
	secrets *redact.Set
	// retireDelay is how long a replaced snapshot's streams may still run before
	// its instances are closed; streams last one HTTP request.
	retireDelay time.Duration

	mu      sync.Mutex // serialises Apply so versions increase with each swap
	version uint64
	current atomic.Pointer[Snapshot]
}

// NewConfigStore returns an empty store (no configuration: not ready).
// observer may be nil.
func NewConfigStore(catalog *Catalog, logger *slog.Logger, observer ReloadObserver) *ConfigStore {
	return &ConfigStore{catalog: catalog, logger: logger, observer: observer, secrets: redact.NewSet(), retireDelay: time.Minute}
}

// UseSecrets makes the store record sensitive values in set, the one the engine's
// log handler scrubs with; call it before the first Apply.
func (s *ConfigStore) UseSecrets(set *redact.Set) { s.secrets = set }

// Current returns the snapshot in force, or nil before the first good Apply.
func (s *ConfigStore) Current() *Snapshot { return s.current.Load() }

// Catalog returns the compiled-in policy catalogue.
func (s *ConfigStore) Catalog() *Catalog { return s.catalog }

// Apply parses and validates raw (YAML or JSON) and makes it the current snapshot.
// source names where raw came from ("/etc/engine.yaml", "xds") for messages.
func (s *ConfigStore) Apply(raw []byte, source string) error {
	return s.apply(raw, source, nil)
}

// Refresh builds the configuration of snap again (its secret files changed) and
// swaps it in unless another configuration replaced snap meanwhile.
func (s *ConfigStore) Refresh(snap *Snapshot) error {
	return s.apply(snap.raw, snap.Source, snap)
}

func (s *ConfigStore) apply(raw []byte, source string, replaces *Snapshot) error {
	snap, err := s.build(raw, source)
	if err == nil {
		if !s.swap(snap, source, replaces) {
			snap.retire(s.logger)
		}
		return nil
	}
	s.logger.Error("configuration rejected, keeping the last good one",
		"source", source, "error", err, "current_version", s.currentVersion())
	if s.observer != nil {
		s.observer.ConfigRejected(source)
	}
	return err
}

// Check validates raw exactly as Apply does but changes nothing (for a dry run or
// a configuration server vetting what it distributes).
func (s *ConfigStore) Check(raw []byte, source string) error {
	return s.Inspect(raw, source, func(*Snapshot) error { return nil })
}

// Inspect validates raw exactly as Apply does and shows fn the snapshot it would
// serve, for tools that derive settings from it (the Envoy configuration); the
// snapshot's instances are closed when fn returns.
func (s *ConfigStore) Inspect(raw []byte, source string, fn func(*Snapshot) error) error {
	snap, err := s.build(raw, source)
	if err != nil {
		return err
	}
	defer snap.retire(s.logger)
	return fn(snap)
}

// build parses and validates raw. Its error never holds a sensitive value: the
// policies' own messages (factory errors, panics) may quote their parameters.
func (s *ConfigStore) build(raw []byte, source string) (*Snapshot, error) {
	cfg, pos, err := ParseConfig(raw, source)
	if err != nil {
		return nil, s.secrets.Error(err)
	}
	var found secrets
	snap, err := buildSnapshot(cfg, pos, s.catalog, s.logger, &found)
	s.secrets.Add(found.values...)
	if err != nil {
		return nil, s.secrets.Error(err)
	}
	snap.raw, snap.secretFiles = raw, found.files
	return snap, nil
}

// swap makes snap current, unless replaces is set and no longer current; it
// reports whether it did.
func (s *ConfigStore) swap(snap *Snapshot, source string, replaces *Snapshot) bool {
	s.mu.Lock()
	if replaces != nil && s.current.Load() != replaces {
		s.mu.Unlock()
		return false
	}
	s.version++
	snap.Version = s.version
	snap.Source = source
	snap.LoadedAt = time.Now().UTC()
	old := s.current.Swap(snap)
	s.mu.Unlock()
	if old != nil {
		time.AfterFunc(s.retireDelay, func() { old.retire(s.logger) })
	}
	s.logger.Info("configuration applied", "source", source, "version", snap.Version,
		"routes", len(snap.chains))
	if s.observer != nil {
		s.observer.ConfigApplied(snap.Version)
	}
	return true
}

func (s *ConfigStore) currentVersion() uint64 {
	if snap := s.Current(); snap != nil {
		return snap.Version
	}
	return 0
}
