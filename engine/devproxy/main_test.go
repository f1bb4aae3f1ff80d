package devproxy

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
)

func TestCLIRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},                        // no upstream
		{"--upstream", "ftp://x"}, // not http
		{"--upstream", "http://127.0.0.1:1", "--route", "api=name"}, // prefix must start with /
		{"--upstream", "http://127.0.0.1:1", "--request-body-mode", "SOMETIMES"},
		{"--upstream", "http://127.0.0.1:1", "--response-body-mode", "FULL_DUPLEX_STREAMED"},
	} {
		// A cancelled context: should a case be accepted, the proxy stops at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var stderr bytes.Buffer
		if err := Command(ctx, append([]string{"--listen=127.0.0.1:0"}, args...), &stderr); err == nil {
			t.Errorf("Command(%q) accepted bad flags", args)
		}
	}
}

func TestParseRoute(t *testing.T) {
	r, err := ParseRoute("/api=api-route=http://127.0.0.1:9")
	if err != nil || r.Prefix != "/api" || r.Name != "api-route" || r.Upstream.Host != "127.0.0.1:9" {
		t.Errorf("ParseRoute = %+v, %v", r, err)
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	up := newUpstream(t, "default")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		// No processor is listening: with failure_mode_allow the request still passes.
		done <- Run(ctx, Config{Listen: "127.0.0.1:0", Upstream: up.url(t), ExtProc: "127.0.0.1:1",
			FailureModeAllow: true}, nil, ready)
	}()
	addr := <-ready
	resp, err := http.Get("http://" + addr.String() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	equal(t, "status", resp.StatusCode, http.StatusOK)
	cancel()
	select {
	case err := <-done:
		if err != nil && !strings.Contains(err.Error(), "closed") {
			t.Fatal(err)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestEnvoyDefaults(t *testing.T) {
	c, err := (&Config{Upstream: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, ExtProc: "127.0.0.1:2"}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "message timeout", c.MessageTimeout, 200*time.Millisecond)
	equal(t, "max body", c.MaxBody, int64(1<<20))
	m := c.Mode
	if m.GetRequestHeaderMode() != filterv3.ProcessingMode_SEND || m.GetResponseHeaderMode() != filterv3.ProcessingMode_SEND ||
		m.GetRequestBodyMode() != filterv3.ProcessingMode_NONE || m.GetResponseBodyMode() != filterv3.ProcessingMode_NONE ||
		m.GetRequestTrailerMode() != filterv3.ProcessingMode_SKIP || m.GetResponseTrailerMode() != filterv3.ProcessingMode_SKIP {
		t.Errorf("default mode = %v", m)
	}
	if c.FailureModeAllow {
		t.Error("failure_mode_allow must default to false")
	}
}
