package docgen

import (
	"fmt"

	"github.com/heraldhq/herald/sdk"
)

// instanceLimit describes a provider's declared instance limit, with
// code formatting values; "" when it declares none.
func instanceLimit(l *sdk.Limits, code func(string) string) string {
	if l == nil {
		return ""
	}
	s := code(l.Rate) + " per instance"
	if l.Burst > 1 {
		s += fmt.Sprintf(", bursts of %d", l.Burst)
	}
	s += " (override with `rate_limit`)"
	if l.Source != "" {
		s += "; source: " + l.Source
	}
	return s
}

// recipientLimit describes an action's per-recipient limit declaration;
// "" when it declares none.
func recipientLimit(r *sdk.RecipientLimit, code func(string) string) string {
	if r == nil {
		return ""
	}
	rate := "no default rate; set one with `recipient_rate_limit`"
	if r.Rate != "" {
		rate = code(r.Rate) + " by default (override with `recipient_rate_limit`)"
	}
	s := fmt.Sprintf("recipient %s, %s", code(r.Key()), rate)
	if r.Source != "" {
		s += "; source: " + r.Source
	}
	return s
}
