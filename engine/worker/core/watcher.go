package core

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"time"
)

// Applier takes a whole configuration document read from source: the ConfigStore,
// and the xDS server that serves the file to a fleet.
type Applier interface {
	Apply(raw []byte, source string) error
}

// FileWatcher gives a config file to its targets at start and whenever its content
// changes. It polls: an mtime check each tick, a content hash only when the mtime or
// size moved. Polling also follows atomic renames and Kubernetes ConfigMap symlink
// swaps, which inotify-based watching misses unless it re-arms carefully.
type FileWatcher struct {
	Path     string
	Interval time.Duration
	// Targets get the content in order; each one validates it, and logs and
	// counts a rejection itself.
	Targets []Applier
	Logger  *slog.Logger

	modTime time.Time
	size    int64
	hash    [sha256.Size]byte
}

// LoadInitial reads the file and gives it to every target; the engine refuses to
// start on the first error.
func (w *FileWatcher) LoadInitial() error {
	raw, info, err := w.read()
	if err != nil {
		return err
	}
	w.remember(raw, info)
	for _, t := range w.Targets {
		if err := t.Apply(raw, w.Path); err != nil {
			return err
		}
	}
	return nil
}

// Run polls until ctx is done.
func (w *FileWatcher) Run(ctx context.Context) {
	poll(ctx, w.Interval, w.check)
}

func (w *FileWatcher) check() {
	info, err := os.Stat(w.Path)
	if err != nil {
		w.Logger.Warn("config file unreadable, keeping the current configuration", "path", w.Path, "error", err)
		return
	}
	if info.ModTime().Equal(w.modTime) && info.Size() == w.size {
		return
	}
	raw, info, err := w.read()
	if err != nil {
		w.Logger.Warn("config file unreadable, keeping the current configuration", "path", w.Path, "error", err)
		return
	}
	if sha256.Sum256(raw) == w.hash {
		w.modTime, w.size = info.ModTime(), info.Size()
		return
	}
	w.remember(raw, info)
	w.Logger.Info("config file changed, reloading", "path", w.Path)
	for _, t := range w.Targets {
		// A target logs and counts a rejection itself; the watcher only moves on.
		_ = t.Apply(raw, w.Path)
	}
}

func (w *FileWatcher) read() ([]byte, os.FileInfo, error) {
	raw, err := os.ReadFile(w.Path)
	if err != nil {
		return nil, nil, err
	}
	info, err := os.Stat(w.Path)
	if err != nil {
		return nil, nil, err
	}
	return raw, info, nil
}

func (w *FileWatcher) remember(raw []byte, info os.FileInfo) {
	w.modTime, w.size, w.hash = info.ModTime(), info.Size(), sha256.Sum256(raw)
}

// poll calls check every interval until ctx is done: the one loop behind the config
// file's watcher and the secret files' watcher.
func poll(ctx context.Context, interval time.Duration, check func()) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			check()
		}
	}
}
