package config

import (
	"fmt"

	"github.com/heraldhq/herald/sdk"
)

// limitOverrides are a provider block's rate_limit and
// recipient_rate_limit as written, kept until the plugin's declared
// limits are known.
type limitOverrides struct {
	l    *loader
	what string
	rate limitAttr
	rcpt limitAttr
}

// limitAttr is one limit attribute: set when written, none when written
// as "none", limit when it parsed.
type limitAttr struct {
	set, none bool
	limit     *RateLimit
	at        Range
}

// limitOverrides reads the rate_limit and recipient_rate_limit of a
// provider block, reporting a malformed value at its line.
func (l *loader) limitOverrides(o *object, what string) *limitOverrides {
	read := func(key string) limitAttr {
		s, e, ok := o.str(key)
		if !ok {
			return limitAttr{}
		}
		a := limitAttr{set: true, none: s == "none", at: e.val.rng}
		if a.none {
			return a
		}
		rl, err := ParseRateLimit(s)
		if err != nil {
			l.rep.errorf(e.val.rng, "%s in %s: %v", key, what, err)
			return a
		}
		rl.Source = LimitConfigured
		a.limit = rl
		return a
	}
	return &limitOverrides{l: l, what: what, rate: read("rate_limit"), rcpt: read("recipient_rate_limit")}
}

// apply sets p's effective limits: the provider block's where it sets
// them, else the defaults spec declares. Without a spec only the block's
// instance limit applies.
func (lo *limitOverrides) apply(p *Provider, spec *sdk.Spec) {
	switch {
	case lo.rate.limit != nil:
		p.RateLimit = lo.rate.limit
	case lo.rate.set:
	case spec != nil && spec.Limits != nil:
		rl, err := declaredRate(spec.Limits.Rate, spec.Limits.Burst)
		if err != nil {
			lo.l.rep.errorf(p.Range, "%s: the plugin declares an invalid limit: %v", lo.what, err)
			return
		}
		p.RateLimit = rl
	}
	if spec == nil {
		return
	}
	keyed := false
	for _, a := range spec.Actions {
		d := a.RecipientLimit
		if d == nil || (d.Field == "") == (d.Expr == "") {
			continue
		}
		keyed = true
		var rl *RateLimit
		switch {
		case lo.rcpt.none:
		case lo.rcpt.limit != nil:
			rl = lo.rcpt.limit
		case d.Rate != "":
			var err error
			if rl, err = declaredRate(d.Rate, 0); err != nil {
				lo.l.rep.errorf(p.Range, "%s: action %s declares an invalid recipient limit: %v", lo.what, a.Name, err)
				continue
			}
		}
		if rl == nil {
			continue
		}
		if p.RecipientLimits == nil {
			p.RecipientLimits = map[string]*RecipientLimit{}
		}
		p.RecipientLimits[a.Name] = &RecipientLimit{RateLimit: rl, Field: d.Field, Expr: d.Expr}
	}
	if !keyed && (lo.rcpt.limit != nil || lo.rcpt.none) {
		lo.l.rep.errorf(lo.rcpt.at, "recipient_rate_limit in %s: provider type %q names no recipient for any action, so it cannot be limited per recipient", lo.what, p.Type)
	}
}

// declaredRate turns a plugin's declared rate into a RateLimit whose
// bucket holds burst calls (at least one): a declared "80/s" spaces calls
// evenly unless the plugin declares a burst.
func declaredRate(text string, burst int) (*RateLimit, error) {
	rl, err := ParseRateLimit(text)
	if err != nil {
		return nil, err
	}
	rl.Burst = max(burst, 1)
	rl.Source = LimitDeclared
	return rl, nil
}

// Where an effective limit comes from.
const (
	LimitDeclared   = "declared"
	LimitConfigured = "configured"
)

// RecipientLimit is one action's effective per-recipient limit and how the
// recipient is named: an input field path or a CEL expression over input.
type RecipientLimit struct {
	*RateLimit
	Field string `json:"field,omitempty"`
	Expr  string `json:"expr,omitempty"`
}

func (r *RecipientLimit) String() string {
	key := "input." + r.Field
	if r.Field == "" {
		key = r.Expr
	}
	return fmt.Sprintf("%s per %s", r.Text, key)
}
