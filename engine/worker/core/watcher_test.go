package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
)

// runWatcher loads path into targets and watches it until the test ends.
func runWatcher(t *testing.T, path string, targets ...Applier) {
	t.Helper()
	w := &FileWatcher{Path: path, Interval: 10 * time.Millisecond, Targets: targets, Logger: discardLogger()}
	if err := w.LoadInitial(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestFileWatcherReloadsAndKeepsLastGood(t *testing.T) {
	store, obs := newTestStore(t)
	path := filepath.Join(t.TempDir(), "engine.yaml")
	if err := os.WriteFile(path, []byte(goodConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	runWatcher(t, path, store)

	if err := os.WriteFile(path, []byte("routes: []\nnoRouteAction: allow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testproc.Eventually(t, "reload", 3*time.Second, func() bool { return store.Current().Version == 2 })
	if !store.Current().AllowNoRoute() {
		t.Error("new content not applied")
	}
	if err := os.WriteFile(path, []byte("routes: [oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testproc.Eventually(t, "rejection", 3*time.Second, func() bool { return obs.rejected.Load() == 1 })
	if store.Current().Version != 2 {
		t.Error("invalid file replaced the last good configuration")
	}
}

// recordingTarget keeps what it was given and refuses what refuse says.
type recordingTarget struct {
	mu     sync.Mutex
	got    []string
	refuse string
}

func (r *recordingTarget) Apply(raw []byte, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(raw))
	if string(raw) == r.refuse {
		return errors.New("refused")
	}
	return nil
}

func (r *recordingTarget) seen() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.got, "|")
}

// Every target gets every content once, whatever the others make of it. The
// contents differ in size, so a coarse file system clock cannot hide a change.
func TestFileWatcherFeedsEveryTarget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.yaml")
	if err := os.WriteFile(path, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	first, second := &recordingTarget{refuse: "bb"}, &recordingTarget{}
	runWatcher(t, path, first, second)
	for _, content := range []string{"bb", "ccc"} {
		// Replaced, not rewritten in place: the watcher could read the truncated file.
		testproc.WriteFile(t, path, content)
		testproc.Eventually(t, "the second target getting "+content, 3*time.Second, func() bool {
			return strings.HasSuffix(second.seen(), content)
		})
	}
	if first.seen() != "a|bb|ccc" || second.seen() != "a|bb|ccc" {
		t.Errorf("targets got %q and %q, want a|bb|ccc each", first.seen(), second.seen())
	}
	if err := (&FileWatcher{Path: path, Targets: []Applier{&recordingTarget{refuse: "ccc"}, second}}).LoadInitial(); err == nil {
		t.Error("LoadInitial accepted a file a target refused")
	}
}
