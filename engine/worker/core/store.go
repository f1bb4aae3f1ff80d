package core

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
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
	return &ConfigStore{catalog: catalog, logger: logger, observer: observer, retireDelay: time.Minute}
}

// Current returns the snapshot in force, or nil before the first good Apply.
func (s *ConfigStore) Current() *Snapshot { return s.current.Load() }

// Catalog returns the compiled-in policy catalogue.
func (s *ConfigStore) Catalog() *Catalog { return s.catalog }

// Apply parses and validates raw (YAML or JSON) and makes it the current snapshot.
// source names where raw came from ("/etc/engine.yaml", "xds") for messages.
func (s *ConfigStore) Apply(raw []byte, source string) error {
	cfg, pos, err := ParseConfig(raw, source)
	if err == nil {
		var snap *Snapshot
		if snap, err = buildSnapshot(cfg, pos, s.catalog, s.logger); err == nil {
			s.swap(snap, source)
			return nil
		}
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
	cfg, pos, err := ParseConfig(raw, source)
	if err != nil {
		return err
	}
	snap, err := buildSnapshot(cfg, pos, s.catalog, s.logger)
	if err != nil {
		return err
	}
	defer snap.retire(s.logger)
	return fn(snap)
}

func (s *ConfigStore) swap(snap *Snapshot, source string) {
	s.mu.Lock()
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
}

func (s *ConfigStore) currentVersion() uint64 {
	if snap := s.Current(); snap != nil {
		return snap.Version
	}
	return 0
}
