package core

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policy-engine-builder/policy-engine/pkg/redact"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// vault holds a secret and, told to, quotes it in its factory error or panic, as a
// careless policy might.
type vault struct{ secret string }

func (vault) Name() string                  { return "vault" }
func (vault) Validate(map[string]any) error { return nil }
func (vault) ExecuteRequest(*policies.RequestContext, map[string]any) *policies.RequestPolicyAction {
	return nil
}

const vaultSpec = `name: vault
version: v1.0.0
parameters:
  - {name: secret, type: string, sensitive: true, required: true, minLength: 8}
  - {name: keys, type: array, sensitive: true, items: {type: string}}
  - {name: header, type: string}
  - {name: leak, type: string, enum: [factory, panic]}
`

// vaultStore returns a store whose log lines go to the returned buffer through
// the redacting handler, as in serve.
func vaultStore(t *testing.T) (*ConfigStore, *bytes.Buffer) {
	t.Helper()
	reg := NewRegistry()
	err := reg.Register(PolicyDefinition{Name: "vault", Version: "v1.0.0", Spec: []byte(vaultSpec),
		Factory: func(_ policies.PolicyMetadata, params map[string]any) (policies.Policy, error) {
			secret := params["secret"].(string)
			switch params["leak"] {
			case "factory":
				return nil, fmt.Errorf("secret %q is not accepted", secret)
			case "panic":
				panic("cannot use " + secret)
			}
			return vault{secret: secret}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	set := redact.NewSet()
	logger := slog.New(set.Handler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	store := NewConfigStore(NewCatalog(reg), logger, nil)
	store.UseSecrets(set)
	return store, &logs
}

func vaultConfig(params string) []byte {
	return []byte("routes:\n  - name: r\n    policies:\n      - name: vault\n        version: v1.0.0\n        parameters: " + params + "\n")
}

func TestSecretReferencesResolve(t *testing.T) {
	store, _ := vaultStore(t)
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_TEST_KEY", "from-the-env")
	err := store.Apply(vaultConfig(fmt.Sprintf("{secret: {fromFile: %s}, keys: [plain-key, {fromEnv: VAULT_TEST_KEY}]}", file)), "engine.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inst := store.Current().Chain("r").Request[0]
	if got := inst.Policy.(vault).secret; got != "from-the-file" {
		t.Errorf("secret %q, want the file's content without its newline", got)
	}
	if keys := inst.Params["keys"].([]any); keys[0] != "plain-key" || keys[1] != "from-the-env" {
		t.Errorf("keys %v", keys)
	}
}

func TestSecretReferenceErrorsNameTheParameter(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_EMPTY", "")
	cases := map[string]struct{ params, want string }{
		"unset variable": {"{secret: {fromEnv: VAULT_NOT_SET_ANYWHERE}}", `engine.yaml:4: route "r" policy vault:v1.0.0: parameter "secret": environment variable VAULT_NOT_SET_ANYWHERE (fromEnv) is not set`},
		"empty variable": {"{secret: {fromEnv: VAULT_EMPTY}}", `parameter "secret": environment variable VAULT_EMPTY (fromEnv) is empty`},
		"missing file":   {"{secret: {fromFile: /nonexistent/secret}}", `parameter "secret": fromFile: open /nonexistent/secret: no such file or directory`},
		"empty file":     {"{secret: {fromFile: " + empty + "}}", `parameter "secret": fromFile ` + empty + ` is empty`},
		"array item":     {"{secret: long-enough, keys: [a, {fromEnv: VAULT_NOT_SET_ANYWHERE}]}", `parameter "keys": item 1: environment variable`},
		"not sensitive":  {"{secret: long-enough, header: {fromEnv: HOME}}", `parameter "header": a fromEnv/fromFile reference is only accepted for sensitive parameters`},
		"not a string":   {"{secret: {fromEnv: 3}}", `parameter "secret": fromEnv must name a non-empty string`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			store, _ := vaultStore(t)
			err := store.Apply(vaultConfig(tc.params), "engine.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if store.Current() != nil {
				t.Error("a configuration with an unresolved secret was applied")
			}
		})
	}
}

func TestRejectedSecretsAreScrubbed(t *testing.T) {
	const canary = "canary-7f3a9c2e"
	for _, leak := range []string{"factory", "panic"} {
		t.Run(leak, func(t *testing.T) {
			store, logs := vaultStore(t)
			err := store.Apply(vaultConfig(fmt.Sprintf("{secret: %s, leak: %s}", canary, leak)), "engine.yaml")
			if err == nil {
				t.Fatal("applied")
			}
			for what, text := range map[string]string{"error": err.Error(), "log": logs.String()} {
				if strings.Contains(text, canary) {
					t.Errorf("%s shows the secret: %s", what, text)
				}
				if !strings.Contains(text, redact.Redacted(canary)) {
					t.Errorf("%s does not show where the secret was: %s", what, text)
				}
			}
		})
	}
	// A value too short to search for is withheld by the schema's own message.
	store, _ := vaultStore(t)
	err := store.Apply(vaultConfig("{secret: abc}"), "engine.yaml")
	if err == nil || strings.Contains(err.Error(), "abc") || !strings.Contains(err.Error(), "minLength") {
		t.Errorf("error %v", err)
	}
}

func TestSecretFileChangeReloads(t *testing.T) {
	store, logs := vaultStore(t)
	file := filepath.Join(t.TempDir(), "secret")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first-secret")
	if err := store.Apply(vaultConfig("{secret: {fromFile: "+file+"}}"), "engine.yaml"); err != nil {
		t.Fatal(err)
	}
	w := &SecretFileWatcher{Store: store, Logger: discardLogger()}
	secret := func() string { return store.Current().Chain("r").Request[0].Policy.(vault).secret }

	w.check()
	if v := store.Current().Version; v != 1 {
		t.Fatalf("reloaded without a change: version %d", v)
	}
	write("second-secret")
	w.check()
	if got := secret(); got != "second-secret" || store.Current().Version != 2 {
		t.Fatalf("after the change: secret %q version %d", got, store.Current().Version)
	}
	// A file that empties is rejected once; the last good secret keeps serving.
	write("")
	w.check()
	w.check()
	if got := secret(); got != "second-secret" {
		t.Errorf("secret %q after the file emptied", got)
	}
	if n := strings.Count(logs.String(), "configuration rejected"); n != 1 {
		t.Errorf("%d rejections logged, want 1:\n%s", n, logs)
	}
	write("third-secret")
	w.check()
	if got := secret(); got != "third-secret" {
		t.Errorf("secret %q after the file was fixed", got)
	}
	// A newer configuration is not replaced by a refresh of the one it replaced.
	old := store.Current()
	if err := store.Apply(vaultConfig("{secret: replaced-secret}"), "engine.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := store.Refresh(old); err != nil {
		t.Fatal(err)
	}
	if got := secret(); got != "replaced-secret" {
		t.Errorf("a stale refresh won: secret %q", got)
	}
}
