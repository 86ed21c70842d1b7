package pluginhost

// AllRestarts returns how many times each plugin that was started has been
// relaunched, by type, for metrics.
func (h *Host) AllRestarts() map[string]int {
	h.mu.Lock()
	types := make([]string, 0, len(h.providers))
	for typ := range h.providers {
		types = append(types, typ)
	}
	h.mu.Unlock()
	out := make(map[string]int, len(types))
	for _, typ := range types {
		out[typ] = h.Restarts(typ)
	}
	return out
}
