package cors

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it (item patterns, bounds) and filled in the defaults.
type params struct {
	AllowOrigins        []string `param:"allowOrigins"`
	AllowOriginPatterns []string `param:"allowOriginPatterns"`
	AllowMethods        []string `param:"allowMethods"`
	AllowHeaders        []string `param:"allowHeaders"`
	ExposeHeaders       []string `param:"exposeHeaders"`
	AllowCredentials    bool     `param:"allowCredentials"`
	MaxAge              int      `param:"maxAge"`
}

// config is the parsed form of one instance's parameters; immutable.
type config struct {
	anyOrigin   bool
	origins     map[string]bool
	patterns    []*regexp.Regexp
	methods     map[string]bool
	headers     map[string]bool
	credentials bool
	// The header values, joined once.
	allowMethods, allowHeaders, exposeHeaders, maxAge string
}

func parseConfig(raw map[string]interface{}) (*config, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	if len(p.AllowOrigins) == 0 && len(p.AllowOriginPatterns) == 0 {
		return nil, fmt.Errorf("parameters %q and %q: at least one of them must allow an origin", "allowOrigins", "allowOriginPatterns")
	}
	if len(p.AllowMethods) == 0 {
		return nil, fmt.Errorf("parameter %q: must list at least one method", "allowMethods")
	}
	cfg := &config{
		origins:       map[string]bool{},
		methods:       map[string]bool{},
		headers:       map[string]bool{},
		credentials:   p.AllowCredentials,
		allowMethods:  strings.Join(p.AllowMethods, ", "),
		exposeHeaders: strings.ToLower(strings.Join(p.ExposeHeaders, ", ")),
		maxAge:        strconv.Itoa(p.MaxAge),
	}
	for i, o := range p.AllowOrigins {
		if o == "*" {
			if len(p.AllowOrigins) > 1 || len(p.AllowOriginPatterns) > 0 {
				return nil, fmt.Errorf("parameter %q: \"*\" allows every origin and must stand alone", "allowOrigins")
			}
			if p.AllowCredentials {
				return nil, fmt.Errorf("parameter %q: \"*\" cannot be combined with allowCredentials: browsers refuse credentials for a wildcard origin", "allowOrigins")
			}
			cfg.anyOrigin = true
			continue
		}
		if err := checkOrigin(o); err != nil {
			return nil, fmt.Errorf("parameter %q: item %d %q: %w", "allowOrigins", i, o, err)
		}
		cfg.origins[strings.ToLower(o)] = true
	}
	for i, expr := range p.AllowOriginPatterns {
		re, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: item %d: %w", "allowOriginPatterns", i, err)
		}
		cfg.patterns = append(cfg.patterns, re)
	}
	for _, m := range p.AllowMethods {
		cfg.methods[m] = true
	}
	lower := make([]string, len(p.AllowHeaders))
	for i, h := range p.AllowHeaders {
		lower[i] = strings.ToLower(h)
		cfg.headers[lower[i]] = true
	}
	cfg.allowHeaders = strings.Join(lower, ", ")
	return cfg, nil
}

// checkOrigin accepts an origin as browsers serialize it: scheme://host[:port], no
// path, query, fragment or user info.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil {
		return err
	}
	if u.Scheme == "" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("not an origin; write scheme://host[:port], e.g. https://app.example.com")
	}
	if u.Path == "/" {
		return fmt.Errorf("an origin has no path; drop the trailing /")
	}
	return nil
}

func (c *config) originAllowed(origin string) bool {
	if origin == "" {
		return false
	}
	if c.anyOrigin || c.origins[strings.ToLower(origin)] {
		return true
	}
	for _, re := range c.patterns {
		if re.MatchString(origin) {
			return true
		}
	}
	return false
}
