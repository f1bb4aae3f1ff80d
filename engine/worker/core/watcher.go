package core

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"time"
)

// FileWatcher re-applies a config file when its content changes. It polls: an
// mtime check each tick, a content hash only when the mtime or size moved. Polling
// also follows atomic renames and Kubernetes ConfigMap symlink swaps, which
// inotify-based watching misses unless it re-arms carefully.
type FileWatcher struct {
	Path     string
	Interval time.Duration
	Store    *ConfigStore
	Logger   *slog.Logger

	modTime time.Time
	size    int64
	hash    [sha256.Size]byte
}

// LoadInitial reads and applies the file once; the engine refuses to start on error.
func (w *FileWatcher) LoadInitial() error {
	raw, info, err := w.read()
	if err != nil {
		return err
	}
	w.remember(raw, info)
	return w.Store.Apply(raw, w.Path)
}

// Run polls until ctx is done.
func (w *FileWatcher) Run(ctx context.Context) {
	ticker := time.NewTicker(w.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			w.check()
		}
	}
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
	// Apply logs and counts a rejection itself; the watcher only moves on.
	_ = w.Store.Apply(raw, w.Path)
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
