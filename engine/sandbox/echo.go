package sandbox

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Seen is what reached the echo upstream for one request; it is also the JSON body
// of the echo's answer.
type Seen struct {
	Upstream string              `json:"upstream"`
	Proto    string              `json:"proto"`
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	Headers  map[string][]string `json:"headers"`
	Body     string              `json:"body"`
	Trailers map[string][]string `json:"trailers,omitempty"`
}

// Echo is an HTTP upstream (HTTP/1.1 and HTTP/2 without TLS) that answers every
// request with what reached it, as indented JSON. Special request headers shape
// the answer: x-echo-status sets the status, x-echo-body replaces the JSON body,
// x-echo-trailer: name=value adds a response trailer.
type Echo struct {
	Name string
	Addr string

	srv   *http.Server
	count atomic.Int64
}

// StartEcho serves on a free loopback port.
func StartEcho(name string) (*Echo, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &Echo{Name: name, Addr: ln.Addr().String()}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, Protocols: protocols}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

// Close stops the server.
func (e *Echo) Close() error { return e.srv.Close() }

// Count is how many requests reached it.
func (e *Echo) Count() int64 { return e.count.Load() }

func (e *Echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.count.Add(1)
	body, _ := io.ReadAll(r.Body)
	s := Seen{Upstream: e.Name, Proto: r.Proto, Method: r.Method, Path: r.URL.RequestURI(),
		Headers: lower(r.Header), Body: string(body)}
	s.Headers["host"] = []string{r.Host}
	if len(r.Trailer) > 0 {
		s.Trailers = lower(r.Trailer)
	}
	var trailer string
	if t := r.Header.Get("x-echo-trailer"); t != "" {
		name, _, _ := strings.Cut(t, "=")
		trailer = t
		w.Header().Set("Trailer", name)
	}
	w.Header().Set("content-type", "application/json")
	if code, err := strconv.Atoi(r.Header.Get("x-echo-status")); err == nil {
		w.WriteHeader(code)
	}
	if b := r.Header.Get("x-echo-body"); b != "" {
		_, _ = io.WriteString(w, b)
	} else {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
	}
	if trailer != "" {
		name, value, _ := strings.Cut(trailer, "=")
		w.Header().Set(name, value)
	}
}

func lower(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = v
	}
	return out
}
