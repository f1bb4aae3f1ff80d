package core

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFileWatcherReloadsAndKeepsLastGood(t *testing.T) {
	store, obs := newTestStore(t)
	path := filepath.Join(t.TempDir(), "engine.yaml")
	if err := os.WriteFile(path, []byte(goodConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &FileWatcher{Path: path, Interval: 10 * time.Millisecond, Targets: []Applier{store}, Logger: discardLogger()}
	if err := w.LoadInitial(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := os.WriteFile(path, []byte("routes: []\nnoRouteAction: allow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("reload", func() bool { return store.Current().Version == 2 })
	if !store.Current().AllowNoRoute() {
		t.Error("new content not applied")
	}
	if err := os.WriteFile(path, []byte("routes: [oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("rejection", func() bool { return obs.rejected.Load() == 1 })
	if store.Current().Version != 2 {
		t.Error("invalid file replaced the last good configuration")
	}
}
