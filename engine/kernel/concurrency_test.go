package kernel

import (
	"strings"
	"sync"
	"testing"
)

// Many streams at once, across reloads: every stream gets a coherent answer from
// one snapshot or the next, and the race detector sees no shared state.
func TestConcurrentStreamsDuringReloads(t *testing.T) {
	e := startEngine(t, phasesConfig)
	other := strings.Replace(phasesConfig, "{status: 201}", "{status: 202}", 1)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				s := e.open(t)
				key := "good"
				if w%4 == 0 {
					key = "bad"
				}
				resp := s.send(requestHeaders("upload", false, "x-api-key", key))
				if key == "bad" {
					if resp.GetImmediateResponse().GetStatus().GetCode() != 401 {
						t.Errorf("bad key: %v", resp)
					}
					s.close()
					continue
				}
				if resp.GetRequestHeaders() == nil {
					t.Errorf("request headers: %v", resp)
					return
				}
				if r := s.send(requestBody("payload", true)); r.GetRequestBody() == nil {
					t.Errorf("request body: %v", r)
				}
				status := setHeaders(s.send(responseHeaders("200", false)).GetResponseHeaders().GetResponse())[":status"]
				if status != "201" && status != "202" {
					t.Errorf("status %q", status)
				}
				if r := s.send(responseBody("x", true)); r.GetResponseBody() == nil {
					t.Errorf("response body: %v", r)
				}
				s.close()
			}
		}()
	}
	for i := range 20 {
		cfg := phasesConfig
		if i%2 == 0 {
			cfg = other
		}
		if err := e.store.Apply([]byte(cfg), "reload"); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if v := e.metricValue(t, "policy_engine_active_streams"); v != 0 {
		t.Errorf("active streams %v after all closed", v)
	}
}
