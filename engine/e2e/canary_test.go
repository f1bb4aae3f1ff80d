//go:build e2e

package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
)

// Canary secrets: given plainly, by environment variable and by file. None may
// appear in anything the engine writes.
const (
	canaryPlain   = "canary-plain-3b8e71c4"
	canaryEnv     = "canary-env-9d02f6aa"
	canaryFile    = "canary-file-5e7c1d30"
	canaryRotated = "canary-rotated-0a4f92be"
)

const canaryConfig = `routes:
  - name: secured
    policies:
      - name: apiKey
        version: v1.0.0
        parameters:
          keys: [` + canaryPlain + `, {fromEnv: E2E_CANARY_KEY}, {fromFile: %s}]
          removeHeader: true
`

// TestCanarySecretsNeverWritten runs the engine at debug level with canary secrets,
// drives every path that writes something (requests allowed and denied, every admin
// and debug endpoint, metrics, a rejected reload, an unresolvable reference, a
// secret file rotation, shutdown) and scans all of it.
func TestCanarySecretsNeverWritten(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api-key")
	testproc.WriteFile(t, keyFile, canaryFile+"\n")
	config := filepath.Join(dir, "engine.yaml")
	good := strings.Replace(canaryConfig, "%s", keyFile, 1)
	testproc.WriteFile(t, config, good)
	t.Setenv("E2E_CANARY_KEY", canaryEnv) // inherited by the engine process

	e := startWith(t, binary(t), config, "--config", config, "--log-level", "debug")
	var written []string // everything the engine answered
	c := dial(t, e.Extproc)
	for _, key := range []string{canaryPlain, canaryEnv, canaryFile, "wrong-key", ""} {
		headers := []string{}
		if key != "" {
			headers = append(headers, "x-api-key", key)
		}
		resp := process(t, c, "secured", headers...)
		written = append(written, protojson.Format(resp))
		denied := resp.GetImmediateResponse().GetStatus().GetCode() == 401
		if want := key == "wrong-key" || key == ""; denied != want {
			t.Errorf("key %q: denied %v, want %v: %v", key, denied, want, resp)
		}
	}

	// A reload the engine rejects: the canaries with a parameter of the wrong type.
	testproc.WriteFile(t, config, good+"          header: [not, a, string]\n")
	waitForLog(t, e, "configuration rejected", 1)
	// One whose reference cannot be resolved.
	testproc.WriteFile(t, config, strings.Replace(good, "E2E_CANARY_KEY", "E2E_CANARY_UNSET", 1))
	waitForLog(t, e, "E2E_CANARY_UNSET (fromEnv) is not set", 1)
	if !strings.Contains(e.Log.String(), `parameter \"keys\": item 1: environment variable E2E_CANARY_UNSET`) {
		t.Errorf("the rejection does not name the parameter:\n%s", e.Log)
	}
	// Back to the good file, then rotate the secret file: the new key works.
	testproc.WriteFile(t, config, good)
	testproc.Eventually(t, "the good configuration again", 10*time.Second, func() bool {
		return process(t, c, "secured", "x-api-key", canaryPlain).GetImmediateResponse() == nil
	})
	testproc.WriteFile(t, keyFile, canaryRotated)
	testproc.Eventually(t, "the rotated secret file", 10*time.Second, func() bool {
		return process(t, c, "secured", "x-api-key", canaryRotated).GetImmediateResponse() == nil
	})
	if resp := process(t, c, "secured", "x-api-key", canaryFile); resp.GetImmediateResponse() == nil {
		t.Error("the secret from before the rotation is still accepted")
	}

	for _, url := range []string{e.Admin + "/healthz", e.Admin + "/readyz", e.Admin + "/metrics",
		e.Admin + "/config_dump", e.Admin + "/policies", e.Debug + "/config_dump", e.Debug + "/policies",
		e.Debug + "/nonexistent"} {
		_, body := testproc.Do(t, http.MethodGet, "http://"+url, nil)
		written = append(written, body)
	}
	_, dump := testproc.Do(t, http.MethodGet, "http://"+e.Debug+"/config_dump", nil)
	if !strings.Contains(dump, "[redacted] ") || !strings.Contains(dump, `"fromFile": "`+keyFile+`"`) {
		t.Errorf("the config dump does not show redacted values and references:\n%s", dump)
	}
	if resp, _ := testproc.Do(t, http.MethodGet, "http://"+e.Admin+"/config_dump", nil); resp.StatusCode != 404 {
		t.Errorf("the admin address serves the config dump: %d", resp.StatusCode)
	}

	if !strings.Contains(e.Log.String(), `"level":"DEBUG"`) {
		t.Errorf("no debug-level line was logged; the scan would prove little:\n%s", e.Log)
	}
	written = append(written, e.Log.String())
	for _, text := range written {
		for _, canary := range []string{canaryPlain, canaryEnv, canaryFile, canaryRotated} {
			if strings.Contains(text, canary) {
				t.Errorf("%s was written:\n%s", canary, text)
			}
		}
	}
}

func waitForLog(t *testing.T, e *engine, text string, n int) {
	t.Helper()
	testproc.Eventually(t, "log line "+text, 10*time.Second, func() bool { return strings.Count(e.Log.String(), text) >= n })
}
