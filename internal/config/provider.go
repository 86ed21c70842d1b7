package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/sdk"
)

// provider decodes one provider instance, resolves the secrets its config
// reads and checks the config against the plugin's schema.
func (l *loader) provider(d decl) {
	what := fmt.Sprintf("provider %q", d.name)
	o := newObject(&l.rep, d.n, what, "type", "config", "rate_limit", "recipient_rate_limit")
	if o == nil {
		return
	}
	defer o.done()
	p := &Provider{Name: d.name, Type: d.name, Config: map[string]any{}, Range: d.at}
	l.project.Providers[d.name] = p

	if t, e, ok := o.str("type"); ok {
		if typeName.MatchString(t) {
			p.Type = t
		} else {
			l.rep.errorf(e.val.rng, "invalid provider type %q: use letters, digits, _ or -", t)
		}
	}
	limits := l.limitOverrides(o, what)

	var configEntry *entry
	var source map[string]any
	rendered := false
	if e := o.get("config"); e != nil {
		configEntry = e
		if e.val.kind != objectNode {
			l.rep.errorf(e.val.rng, "config in %s must be an object, not %s", what, e.val.kindName())
		} else {
			source = e.val.plain(&l.rep).(map[string]any)
			rendered = l.providerConfig(p, source, e.val)
		}
	}

	r := l.spec(p.Type)
	if r.err != nil {
		l.rep.errorf(d.at, "%s: %v", what, r.err)
		return
	}
	if r.spec == nil {
		limits.apply(p, nil)
		return
	}
	p.Spec = r.spec
	limits.apply(p, r.spec)
	check, dynamic := p.Config, l.readsStandIn
	if !rendered {
		check, dynamic = source, isDynamic
	}
	if check == nil {
		check = map[string]any{}
	}
	at := func(path string) Range {
		if configEntry == nil {
			return d.at
		}
		return keyOrValue(configEntry, path)
	}
	for _, fe := range r.spec.Config.Validate(check, sdk.ValidateOptions{Dynamic: dynamic}) {
		l.rep.errorf(at(fe.Path), "%s config: %s", what, fe.Error())
	}
	for _, name := range r.spec.Config.SensitiveFields() {
		p.SensitiveFields = append(p.SensitiveFields, name)
		if v, ok := p.Config[name]; ok && v != nil && v != "" {
			p.SensitiveValues = append(p.SensitiveValues, scalarText(v))
		}
		if emptySensitive(p.Config, source, rendered, name) {
			// An empty credential is a mistake, and an empty webhook
			// secret would turn verification off without a word.
			l.rep.errorf(at(name), "%s config: %s is sensitive and must not be empty: set the secret it reads, or leave %s out", what, name, name)
		}
		if s, ok := source[name].(string); ok && s != "" && !expr.HasTemplate(s) {
			l.rep.warnf(at(name), "%s config: %s is sensitive; read it from a secret, as \"{{ secrets.NAME }}\", instead of writing it in the file", what, name)
		}
	}
}

// providerConfig compiles the config's templates, which may read secrets
// only, and renders them into p.Config. It reports whether that worked.
func (l *loader) providerConfig(p *Provider, source map[string]any, n *node) bool {
	v, errs := l.comp.Value(source, expr.Context{Where: "provider config", Names: expr.Secrets})
	if errs != nil {
		l.exprErrors(errs, n, "config")
		return false
	}
	ok := true
	for _, ref := range v.SecretRefs() {
		if _, found := l.secret(ref.Name, valueAt(n, ref.Path)); !found {
			ok = false
		}
	}
	if !ok {
		return false
	}
	out, err := v.RenderMap(expr.SecretScope(l.project.Secrets))
	if err != nil {
		l.rep.errorf(n.rng, "config of provider %q: %v", p.Name, err)
		return false
	}
	p.Config = out
	return true
}

// emptySensitive reports a sensitive config field that is set to an empty
// string, as written or as its secrets resolved.
func emptySensitive(config, source map[string]any, rendered bool, name string) bool {
	if rendered {
		v, ok := config[name]
		return ok && v == ""
	}
	v, ok := source[name]
	return ok && v == ""
}

// isDynamic tells schema validation that a string holding a template is
// not known until run time.
func isDynamic(v any) bool {
	s, ok := v.(string)
	return ok && expr.HasTemplate(s)
}

// readsStandIn tells schema validation that a rendered config string read
// the stand-in of a secret that is not set, so its value is not known.
func (l *loader) readsStandIn(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, r := range l.secrets {
		if r.standIn && r.value != "" && strings.Contains(s, r.value) {
			return true
		}
	}
	return false
}

// scalarText renders a config value as the text a masker looks for.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// ParseRateLimit parses a rate limit such as "20/s", "100/m", "1000/h" or
// "5/10s": a positive count of calls per unit (s, m, h, or any Go
// duration). The bucket holds count calls and refills over the period.
func ParseRateLimit(s string) (*RateLimit, error) {
	count, per, err := sdk.ParseRate(s)
	if err != nil {
		return nil, err
	}
	return &RateLimit{
		Text:  s,
		Count: count,
		Per:   per,
		Rate:  float64(count) / per.Seconds(),
		Burst: count,
	}, nil
}
