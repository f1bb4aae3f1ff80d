package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestHandlerScrubsEveryKindOfAttribute(t *testing.T) {
	set := NewSet()
	set.Add("secret-one", "secret-one-longer", "abc")
	var out bytes.Buffer
	logger := slog.New(set.Handler(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))).
		With("bound", "with secret-one")
	logger.WithGroup("g").Debug("message secret-one-longer",
		"error", errors.New("wrapped: secret-one"),
		"list", []string{"secret-one", "fine"},
		"any", struct{ V string }{"secret-one"},
		slog.Group("nested", "s", "secret-one"),
		"stack", []byte("goroutine 1: secret-one"),
		"count", 3, "short", "abc")
	text := out.String()
	if strings.Contains(text, "secret-one") {
		t.Fatalf("log shows a secret: %s", text)
	}
	for _, want := range []string{"message " + Redacted("secret-one-longer"), `"count":3`, `"fine"`, "abc"} {
		if !strings.Contains(text, want) {
			t.Errorf("log %s lacks %q", text, want)
		}
	}
}

func TestErrorKeepsCleanErrorsAsTheyAre(t *testing.T) {
	set := NewSet()
	set.Add("hunter22")
	clean := errors.New("nothing secret")
	if set.Error(clean) != clean || set.Error(nil) != nil {
		t.Error("a clean error was replaced")
	}
	if got := set.Error(errors.New("bad hunter22")).Error(); got != "bad "+Redacted("hunter22") {
		t.Errorf("got %q", got)
	}
}

func TestFingerprintIsStable(t *testing.T) {
	// Fixed across processes and engines: changing the key changes every fingerprint
	// operators have recorded.
	if got := Fingerprint("demo-key-1"); got != Fingerprint("demo-key-1") || len(got) != 8 || got == Fingerprint("demo-key-2") {
		t.Errorf("fingerprint %q", got)
	}
}
