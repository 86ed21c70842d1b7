package config

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// The model marshals to JSON for golden tests, dry runs and API listings:
// durations are written as Go duration strings ("30s"), expressions as their
// source text, and a provider's sensitive config values as "***".

// MarshalJSON writes the provider with sensitive config values masked.
func (p *Provider) MarshalJSON() ([]byte, error) {
	type alias Provider
	cfg := maps.Clone(p.Config)
	for k := range cfg {
		if slices.Contains(p.SensitiveFields, k) {
			cfg[k] = "***"
		}
	}
	return json.Marshal(struct {
		*alias
		Config map[string]any `json:"config"`
	}{(*alias)(p), cfg})
}

// MarshalJSON writes the period as a duration string.
func (r *RateLimit) MarshalJSON() ([]byte, error) {
	type alias RateLimit
	return json.Marshal(struct {
		*alias
		Per string `json:"per"`
	}{(*alias)(r), r.Per.String()})
}

// MarshalJSON writes the timeout as a duration string.
func (s *Step) MarshalJSON() ([]byte, error) {
	type alias Step
	return json.Marshal(struct {
		*alias
		Timeout string `json:"timeout"`
	}{(*alias)(s), s.Timeout.String()})
}

// MarshalJSON writes the timestamp tolerance and the respond timeout, when
// set, as duration strings.
func (t *Trigger) MarshalJSON() ([]byte, error) {
	type alias Trigger
	str := func(d time.Duration) string {
		if d > 0 {
			return d.String()
		}
		return ""
	}
	return json.Marshal(struct {
		*alias
		TimestampTolerance string `json:"timestamp_tolerance,omitempty"`
		RespondTimeout     string `json:"respond_timeout,omitempty"`
	}{(*alias)(t), str(t.TimestampTolerance), str(t.RespondTimeout)})
}

// MarshalJSON writes the intervals as duration strings.
func (r Retry) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MaxAttempts     int     `json:"max_attempts"`
		InitialInterval string  `json:"initial_interval"`
		MaxInterval     string  `json:"max_interval"`
		Multiplier      float64 `json:"multiplier"`
	}{r.MaxAttempts, r.InitialInterval.String(), r.MaxInterval.String(), r.Multiplier})
}
