package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policy-engine-builder/policy-engine/pkg/buildinfo"
)

func TestVersionOutput(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out bytes.Buffer
		if err := dispatch(context.Background(), args, &out); err != nil {
			t.Fatal(err)
		}
		want := "policy-engine " + buildinfo.Version + " (commit " + buildinfo.Commit + ", built " + buildinfo.BuildTime + ")\npolicies: "
		if !strings.HasPrefix(out.String(), want) || !strings.HasSuffix(out.String(), "\n") {
			t.Errorf("%v: %q", args, out.String())
		}
	}
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"bogus"}, &out); err == nil {
		t.Error("unknown command accepted")
	}
	err := dispatch(context.Background(), []string{"--log-format", "xml"}, &out)
	var usage usageError
	if err == nil || !strings.Contains(err.Error(), "log-format") || !errors.As(err, &usage) {
		t.Errorf("bad log format: %v (want a usage error)", err)
	}
	err = dispatch(context.Background(), []string{"serve", "--stream-workers", "-1"}, &out)
	if err == nil || !strings.Contains(err.Error(), "stream-workers") || !errors.As(err, &usage) {
		t.Errorf("negative stream workers: %v (want a usage error)", err)
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("routes: []\nnoRouteAction: allow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("routes:\n  - name: r\n    policies: [{name: missing, version: v1.0.0}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"validate", "--config", good}, &out); err != nil || !strings.Contains(out.String(), "valid") {
		t.Errorf("good config: %v %q", err, out.String())
	}
	err := dispatch(context.Background(), []string{"validate", "--config", bad}, &out)
	var usage usageError
	if errors.As(err, &usage) {
		t.Errorf("an invalid config is not a usage error: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), bad+":3") || !strings.Contains(err.Error(), "missing:v1.0.0") {
		t.Errorf("bad config: %v", err)
	}
}
