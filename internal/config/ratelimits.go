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
	// rate is the parsed rate_limit; none is set by rate_limit = "none".
	rate     *RateLimit
	rateSet  bool
	none     bool
	perRcpt  *RateLimit
	rcptNone bool
	rcptAt   Range
}

// limitOverrides reads the rate_limit and recipient_rate_limit of a
// provider block, reporting a malformed value at its line.
func (l *loader) limitOverrides(o *object, what string) *limitOverrides {
	lo := &limitOverrides{l: l, what: what}
	if s, e, ok := o.str("rate_limit"); ok {
		lo.rateSet = true
		if s == "none" {
			lo.none = true
		} else if rl, err := ParseRateLimit(s); err != nil {
			l.rep.errorf(e.val.rng, "rate_limit in %s: %v", what, err)
		} else {
			rl.Source = LimitConfigured
			lo.rate = rl
		}
	}
	if s, e, ok := o.str("recipient_rate_limit"); ok {
		lo.rcptAt = e.val.rng
		if s == "none" {
			lo.rcptNone = true
		} else if rl, err := ParseRateLimit(s); err != nil {
			l.rep.errorf(e.val.rng, "recipient_rate_limit in %s: %v", what, err)
		} else {
			rl.Source = LimitConfigured
			lo.perRcpt = rl
		}
	}
	return lo
}

// apply sets p's effective limits: the provider block's where it sets
// them, else the defaults spec declares. Without a spec only the block's
// instance limit applies.
func (lo *limitOverrides) apply(p *Provider, spec *sdk.Spec) {
	switch {
	case lo.rate != nil:
		p.RateLimit = lo.rate
	case lo.none || lo.rateSet:
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
		case lo.rcptNone:
		case lo.perRcpt != nil:
			rl = lo.perRcpt
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
	if !keyed && (lo.perRcpt != nil || lo.rcptNone) {
		lo.l.rep.errorf(lo.rcptAt, "recipient_rate_limit in %s: provider type %q names no recipient for any action, so it cannot be limited per recipient", lo.what, p.Type)
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
