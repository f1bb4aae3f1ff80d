package core

import (
	"os"
	"path/filepath"
	"testing"
)

// The shipped example must stay in step with the config schema.
func TestExampleConfigParses(t *testing.T) {
	path := filepath.Join("..", "..", "..", "examples", "engine-config.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := ParseConfig(raw, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Routes) != 3 || cfg.DefaultRoute != "public" {
		t.Errorf("unexpected example content: %+v", cfg)
	}
}
