package sdk

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits declares the rate limit a provider instance has by default, such
// as the throughput a WhatsApp Business number is allowed. The host
// enforces it across every run and workflow (and across replicas in
// scale-out); a provider block's rate_limit replaces it.
type Limits struct {
	// Rate is the instance's limit as "<count>/<unit>", such as "80/s",
	// "100/m" or "5/10s" (see ParseRate).
	Rate string `json:"rate"`
	// Burst is how many calls may go at once after a quiet spell; 0 means
	// 1, so calls are spaced evenly at Rate.
	Burst int `json:"burst,omitempty"`
	// Source says where the figure comes from (a documentation URL), for
	// the generated provider reference.
	Source string `json:"source,omitempty"`
}

// RecipientLimit declares how often one action may reach the same
// recipient, such as WhatsApp's pair rate limit of one message every six
// seconds to the same user. The recipient is named by an input field
// (Field, a dotted path such as "to.mobile") or by a CEL expression over
// input (Expr, such as `has(input.phone) ? input.phone : input.chat_id`).
// Calls whose key is empty are not limited per recipient. Rate may be left
// empty to declare only the key, so that a provider block's
// recipient_rate_limit can set the rate.
type RecipientLimit struct {
	Rate   string `json:"rate,omitempty"`
	Field  string `json:"field,omitempty"`
	Expr   string `json:"expr,omitempty"`
	Source string `json:"source,omitempty"`
}

// Key describes how the recipient is named, for docs and describe output.
func (r *RecipientLimit) Key() string {
	if r.Field != "" {
		return "input." + r.Field
	}
	return r.Expr
}

// Validate checks a limits declaration.
func (l *Limits) Validate() error {
	if _, _, err := ParseRate(l.Rate); err != nil {
		return err
	}
	if l.Burst < 0 {
		return fmt.Errorf("burst %d must not be negative", l.Burst)
	}
	return nil
}

// Validate checks a recipient limit declaration: a valid rate, when set,
// and exactly one of Field and Expr.
func (r *RecipientLimit) Validate() error {
	if r.Rate != "" {
		if _, _, err := ParseRate(r.Rate); err != nil {
			return err
		}
	}
	if (r.Field == "") == (r.Expr == "") {
		return errors.New("a recipient limit names the recipient by exactly one of field and expr")
	}
	return nil
}

// ParseRate parses a rate such as "20/s", "100/m", "1000/h" or "5/10s": a
// positive count of calls per unit (s, m, h, or any positive Go duration).
func ParseRate(s string) (count int, per time.Duration, err error) {
	countText, perText, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, fmt.Errorf("rate limit %q must be <count>/<unit>, such as 20/s or 100/m", s)
	}
	count, err = strconv.Atoi(strings.TrimSpace(countText))
	if err != nil || count <= 0 {
		return 0, 0, fmt.Errorf("rate limit %q must start with a positive whole number of calls", s)
	}
	perText = strings.TrimSpace(perText)
	switch perText {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		per, err = time.ParseDuration(perText)
		if err != nil || per <= 0 {
			return 0, 0, fmt.Errorf("rate limit %q must end with a unit (s, m or h) or a positive duration such as 10s", s)
		}
	}
	return count, per, nil
}
