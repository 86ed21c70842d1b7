package serve

import (
	"sync"

	"github.com/heraldhq/herald/internal/engine"
)

// hub fans the engine's events out to subscribers (the SSE endpoints and the
// console). Publishing calls every subscriber synchronously, so subscribers
// must be quick: they hand the event to their own buffered channel.
type hub struct {
	mu   sync.RWMutex
	next int
	subs map[int]func(engine.Event)
}

// publish calls every subscriber with ev.
func (h *hub) publish(ev engine.Event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, fn := range h.subs {
		fn(ev)
	}
}

// subscribe adds fn and returns the function that removes it.
func (h *hub) subscribe(fn func(engine.Event)) (unsubscribe func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[int]func(engine.Event){}
	}
	id := h.next
	h.next++
	h.subs[id] = fn
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, id)
			h.mu.Unlock()
		})
	}
}

// Subscribe calls fn for every engine event until unsubscribe is called; fn
// must be quick. It implements httpapi.Runtime.
func (s *Server) Subscribe(fn func(engine.Event)) (unsubscribe func()) {
	return s.events.subscribe(fn)
}
