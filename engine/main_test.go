package main

import (
	"bytes"
	"context"
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
	if err := dispatch(context.Background(), []string{"--log-format", "xml"}, &out); err == nil || !strings.Contains(err.Error(), "log-format") {
		t.Errorf("bad log format: %v", err)
	}
}
