package policyenginev1

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// protocVersionLine differs between machines and says nothing about the content.
var protocVersionLine = regexp.MustCompile(`(?m)^// \tprotoc +v.*\n`)

// TestGeneratedCodeIsCurrent regenerates config.pb.go from config.proto and compares.
// It needs protoc and protoc-gen-go on PATH (`make check-proto` provides them) and is
// skipped elsewhere.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	for _, tool := range []string{"protoc", "protoc-gen-go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH; run `make check-proto`", tool)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("protoc", "-I", "../..", "--go_out="+out, "--go_opt=paths=source_relative",
		"../../policyengine/v1/config.proto")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, msg)
	}
	fresh, err := os.ReadFile(filepath.Join(out, "policyengine/v1/config.pb.go"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("config.pb.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(protocVersionLine.ReplaceAll(fresh, nil), protocVersionLine.ReplaceAll(committed, nil)) {
		t.Error("config.pb.go is stale: run `make proto` and commit the result")
	}
}
