package httpapi

import (
	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/sdk"
)

// MaskView masks a run object exactly as the API does before it answers
// with one, for other presenters of runs (the console) to share the rule
// rather than copy it. A nil m masks nothing.
func MaskView(m *sdk.Masker, v *engine.RunView) *engine.RunView {
	if m == nil || v == nil {
		return v
	}
	a := &api{opts: Options{Masker: func() *sdk.Masker { return m }}}
	return a.maskView(v)
}
