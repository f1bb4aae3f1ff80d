// Package redact keeps sensitive parameter values out of everything the engine
// writes: it fingerprints them for the config dump and scrubs them from log records
// and error messages (docs/security.md).
package redact

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// Marker replaces a secret wherever one would have been written.
const Marker = "[redacted]"

// MinLength is the shortest value Scrub replaces inside free text. Shorter values
// would garble every message that happens to contain, say, "ab"; the config dump
// redacts sensitive parameters of every length by structure, not by search.
const MinLength = 4

// fingerprintKey is fixed, not per process: the same secret shows the same
// fingerprint on every engine of a fleet and across restarts, which is what lets an
// operator see that a rotation reached every replica. Keying the hash separates it
// from a bare SHA-256 of the value that might be published elsewhere; eight hex
// digits (32 bits) say which of a few values is in force and no more.
var fingerprintKey = []byte("policy-engine secret fingerprint v1")

// Fingerprint returns the first 8 hex digits of HMAC-SHA-256(value).
func Fingerprint(value string) string {
	mac := hmac.New(sha256.New, fingerprintKey)
	mac.Write([]byte(value))
	return hex.EncodeToString(mac.Sum(nil))[:8]
}

// Redacted is what the config dump shows in place of value.
func Redacted(value string) string { return Marker + " " + Fingerprint(value) }

// Set is the secrets the process has seen. Values are added before anything could
// write them (while a configuration is being loaded) and never removed: a
// rejected or replaced configuration's secrets stay secret in later messages too.
type Set struct {
	mu       sync.RWMutex
	values   map[string]struct{}
	replacer *strings.Replacer
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{values: map[string]struct{}{}} }

// Add remembers values; those shorter than MinLength are not searched for in text.
func (s *Set) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, v := range values {
		if len(v) < MinLength {
			continue
		}
		if _, ok := s.values[v]; !ok {
			s.values[v] = struct{}{}
			changed = true
		}
	}
	if !changed {
		return
	}
	// Longest first, so a secret that contains another is replaced whole.
	sorted := make([]string, 0, len(s.values))
	for v := range s.values {
		sorted = append(sorted, v)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if len(sorted[i]) != len(sorted[j]) {
			return len(sorted[i]) > len(sorted[j])
		}
		return sorted[i] < sorted[j]
	})
	pairs := make([]string, 0, 2*len(sorted))
	for _, v := range sorted {
		pairs = append(pairs, v, Redacted(v))
	}
	s.replacer = strings.NewReplacer(pairs...)
}

// Scrub returns text with every known secret replaced by its redacted form.
func (s *Set) Scrub(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	r := s.replacer
	s.mu.RUnlock()
	if r == nil {
		return text
	}
	return r.Replace(text)
}

// Error returns err with its message scrubbed; nil stays nil. The result no longer
// unwraps: its chain could still hold the secret.
func (s *Set) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := s.Scrub(msg); clean != msg {
		return errors.New(clean)
	}
	return err
}

// Handler wraps next so that no record it writes holds a known secret: the
// message and every attribute value (errors, panic values and stacks included) are
// resolved to text and scrubbed.
func (s *Set) Handler(next slog.Handler) slog.Handler { return &handler{set: s, next: next} }

type handler struct {
	set  *Set
	next slog.Handler
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	clean := slog.NewRecord(r.Time, r.Level, h.set.Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		clean.AddAttrs(h.scrubAttr(a))
		return true
	})
	return h.next.Handle(ctx, clean)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.scrubAttr(a)
	}
	return &handler{set: h.set, next: h.next.WithAttrs(clean)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{set: h.set, next: h.next.WithGroup(name)}
}

// scrubAttr keeps numbers, booleans, times and durations as they are (they cannot
// hold a string secret) and turns anything else into scrubbed text.
func (h *handler) scrubAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = h.scrubAttr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration, slog.KindTime:
		return slog.Attr{Key: a.Key, Value: v}
	case slog.KindString:
		return slog.String(a.Key, h.set.Scrub(v.String()))
	}
	if b, ok := v.Any().([]byte); ok {
		return slog.String(a.Key, h.set.Scrub(string(b)))
	}
	if list, ok := v.Any().([]string); ok {
		clean := make([]string, len(list))
		for i, item := range list {
			clean[i] = h.set.Scrub(item)
		}
		return slog.Any(a.Key, clean)
	}
	// fmt renders errors by Error() and Stringers by String(), as the handlers would.
	return slog.String(a.Key, h.set.Scrub(fmt.Sprint(v.Any())))
}
