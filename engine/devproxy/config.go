package devproxy

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
)

// Defaults mirror Envoy's ext_proc filter defaults so behaviour seen through the dev
// proxy matches what a real Envoy would do with an untuned filter.
const (
	DefaultMessageTimeout = 200 * time.Millisecond
	// DefaultMaxBody matches Envoy's default per-connection buffer limit (1 MiB).
	DefaultMaxBody = 1 << 20
)

// Route maps a request path prefix to the route name sent as the xds.route_name
// attribute, optionally with its own upstream (so a :path rewrite with
// clear_route_cache can move a request to another backend, as in Envoy).
type Route struct {
	Prefix   string
	Name     string
	Upstream *url.URL // nil: the proxy's default upstream
}

// Config is everything the proxy needs; zero values get Envoy's defaults in Run.
type Config struct {
	Listen            string        // HTTP listen address, e.g. 127.0.0.1:8080
	Upstream          *url.URL      // default upstream base URL
	ExtProc           string        // ext_proc gRPC address, e.g. 127.0.0.1:9001
	Routes            []Route       // longest prefix wins
	MaxBody           int64         // buffered body limit in bytes; bigger gives 413
	MessageTimeout    time.Duration // per ext_proc message; past it 504
	FailureModeAllow  bool          // on ext_proc failure continue unprocessed
	AllowModeOverride bool          // honour mode_override on headers responses
	Mode              *filterv3.ProcessingMode
}

// DefaultMode is Envoy's default processing mode: headers sent, bodies and trailers not.
func DefaultMode() *filterv3.ProcessingMode {
	return &filterv3.ProcessingMode{
		RequestHeaderMode:   filterv3.ProcessingMode_SEND,
		ResponseHeaderMode:  filterv3.ProcessingMode_SEND,
		RequestBodyMode:     filterv3.ProcessingMode_NONE,
		ResponseBodyMode:    filterv3.ProcessingMode_NONE,
		RequestTrailerMode:  filterv3.ProcessingMode_SKIP,
		ResponseTrailerMode: filterv3.ProcessingMode_SKIP,
	}
}

func (c *Config) withDefaults() (*Config, error) {
	out := *c
	if out.Upstream == nil || out.Upstream.Host == "" {
		return nil, errors.New("devproxy: an upstream URL is required")
	}
	if out.ExtProc == "" {
		return nil, errors.New("devproxy: an ext_proc address is required")
	}
	if out.MaxBody <= 0 {
		out.MaxBody = DefaultMaxBody
	}
	if out.MessageTimeout <= 0 {
		out.MessageTimeout = DefaultMessageTimeout
	}
	if out.Mode == nil {
		out.Mode = DefaultMode()
	}
	if err := checkMode(out.Mode); err != nil {
		return nil, err
	}
	out.Routes = append([]Route(nil), c.Routes...)
	sort.SliceStable(out.Routes, func(i, j int) bool {
		return len(out.Routes[i].Prefix) > len(out.Routes[j].Prefix)
	})
	return &out, nil
}

// route returns the route for a path: the longest matching prefix, or a route with
// an empty name (Envoy then sends no xds.route_name) and the default upstream.
func (c *Config) route(path string) Route {
	for _, r := range c.Routes {
		if strings.HasPrefix(path, r.Prefix) {
			if r.Upstream == nil {
				r.Upstream = c.Upstream
			}
			return r
		}
	}
	return Route{Upstream: c.Upstream}
}

// ParseRoute parses a --route flag value: PREFIX=NAME or PREFIX=NAME=UPSTREAM_URL.
func ParseRoute(s string) (Route, error) {
	parts := strings.SplitN(s, "=", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "/") || parts[1] == "" {
		return Route{}, fmt.Errorf("route %q: want /prefix=name[=http://upstream]", s)
	}
	r := Route{Prefix: parts[0], Name: parts[1]}
	if len(parts) == 3 {
		u, err := parseUpstream(parts[2])
		if err != nil {
			return Route{}, fmt.Errorf("route %q: %w", s, err)
		}
		r.Upstream = u
	}
	return r, nil
}

func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q: want http(s)://host:port", s)
	}
	return u, nil
}
