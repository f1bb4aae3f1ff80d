package core

import "testing"

// FuzzApply feeds arbitrary bytes to the config store: it must reject or accept,
// never panic, and a rejection must leave the last good snapshot in place.
func FuzzApply(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("routes: []\nnoRouteAction: allow\n"))
	f.Add([]byte(`{"routes":[{"name":"r","policies":[{"name":"step","version":"v1.0.0","when":"request.method == 'GET'"}]}]}`))
	f.Add([]byte("routes:\n  - name: a\n    policies: [{name: step, version: v1.0.0, parameters: {tag: [1]}}]\n"))
	store, _ := newTestStore(f)
	if err := store.Apply([]byte(goodConfig), "seed"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		before := store.Current()
		if err := store.Apply(raw, "fuzz"); err != nil && store.Current() != before {
			t.Fatal("a rejected configuration replaced the snapshot")
		}
		if store.Current() == nil {
			t.Fatal("no snapshot after Apply")
		}
	})
}
