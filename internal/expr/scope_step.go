package expr

// WithStep returns a Scope in which steps.<id> reads d, leaving s as it is.
// The engine uses it to show a step's own failure to its fallbacks, possibly
// from many for_each elements at once, so it must not write to s.
func (s *Scope) WithStep(id string, d StepData) *Scope {
	c := *s
	c.steps = make(map[string]any, len(s.steps)+1)
	for k, v := range s.steps {
		c.steps[k] = v
	}
	(&c).SetStep(id, d)
	return &c
}
