package sdk

// MergeBody returns base with override deep-merged into it: objects merge key
// by key, any other override value (including lists and null) replaces the
// base value. Neither argument is modified.
func MergeBody(base, override map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(override))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = MergeBody(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}
