// Package admin serves the engine's operational HTTP endpoints in two handlers:
// Handler has what probes and scrapers need (health, readiness, Prometheus
// metrics) and may listen on every interface; DebugHandler has the configuration
// in force and the catalogue of compiled-in policies, listens on loopback by
// default, and shows sensitive parameters only as "[redacted] <fingerprint>"
// (docs/security.md).
package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/policy-engine-builder/policy-engine/pkg/buildinfo"
	"github.com/policy-engine-builder/policy-engine/pkg/validation"
	"github.com/policy-engine-builder/policy-engine/worker/core"
)

// Handler returns the admin mux: health, readiness and metrics.
func Handler(store *core.ConfigStore, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if store.Current() == nil {
			writeText(w, http.StatusServiceUnavailable, "no configuration loaded\n")
			return
		}
		writeText(w, http.StatusOK, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return mux
}

// DebugHandler returns the debug mux: the configuration dump and the policy
// catalogue, which show how the engine is set up.
func DebugHandler(store *core.ConfigStore, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config_dump", func(w http.ResponseWriter, _ *http.Request) {
		snap := store.Current()
		if snap == nil {
			writeText(w, http.StatusServiceUnavailable, "no configuration loaded\n")
			return
		}
		writeJSON(w, logger, configDump{Version: snap.Version, Source: snap.Source, LoadedAt: snap.LoadedAt, Config: snap.Redacted})
	})
	mux.HandleFunc("GET /policies", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, logger, catalogue(store.Catalog()))
	})
	return mux
}

type configDump struct {
	Version  uint64       `json:"version"`
	Source   string       `json:"source"`
	LoadedAt time.Time    `json:"loadedAt"`
	Config   *core.Config `json:"config"`
}

type build struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildTime string `json:"buildTime"`
}

type policyEntry struct {
	Name                 string                 `json:"name"`
	Version              string                 `json:"version"`
	Description          string                 `json:"description,omitempty"`
	GoModule             string                 `json:"goModule,omitempty"`
	SourcePath           string                 `json:"sourcePath,omitempty"`
	RequestPhase         bool                   `json:"supportsRequestPhase"`
	ResponsePhase        bool                   `json:"supportsResponsePhase"`
	RequiresRequestBody  bool                   `json:"requiresRequestBody"`
	RequiresResponseBody bool                   `json:"requiresResponseBody"`
	Parameters           []validation.Parameter `json:"parameters"`
	Error                string                 `json:"error,omitempty"`
}

type catalogueDoc struct {
	Build    build         `json:"build"`
	Policies []policyEntry `json:"policies"`
}

func catalogue(c *core.Catalog) catalogueDoc {
	doc := catalogueDoc{
		Build:    build{Version: buildinfo.Version, Commit: buildinfo.Commit, BuildTime: buildinfo.BuildTime},
		Policies: []policyEntry{},
	}
	for _, e := range c.Entries() {
		p := policyEntry{
			Name: e.Definition.Name, Version: e.Definition.Version,
			GoModule: e.Definition.GoModule, SourcePath: e.Definition.SourcePath,
			Parameters: []validation.Parameter{},
		}
		if e.Err != nil {
			p.Error = e.Err.Error()
		}
		if s := e.Spec; s != nil {
			p.Description = s.Description
			p.RequestPhase, p.ResponsePhase = s.RequestPhase(), s.ResponsePhase()
			p.RequiresRequestBody, p.RequiresResponseBody = s.RequiresRequestBody, s.RequiresResponseBody
			if s.Parameters != nil {
				p.Parameters = s.Parameters
			}
		}
		doc.Policies = append(doc.Policies, p)
	}
	return doc
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func writeJSON(w http.ResponseWriter, logger *slog.Logger, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		logger.Error("admin: cannot encode response", "error", err)
		writeText(w, http.StatusInternalServerError, "cannot encode response\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}
