package chatwoot

import (
	"container/list"
	"sync"
	"time"
)

// deliveryCapacity bounds how many webhook delivery ids are remembered.
const deliveryCapacity = 10000

// deliveryTTL is how long a delivery id is remembered. Chatwoot retries a
// failed delivery within minutes, and a signed delivery older than the
// webhook tolerance is rejected anyway; the host also de-duplicates durably
// on the event id.
const deliveryTTL = time.Hour

// deliverySet remembers recently seen webhook delivery ids, bounded in both
// count and age, so a replayed delivery yields no events.
type deliverySet struct {
	capacity int
	ttl      time.Duration

	mu    sync.Mutex
	order *list.List // of *delivery, oldest first
	byKey map[string]*list.Element
}

type delivery struct {
	key  string
	seen time.Time
}

func newDeliverySet(capacity int, ttl time.Duration) *deliverySet {
	return &deliverySet{capacity: capacity, ttl: ttl, order: list.New(), byKey: map[string]*list.Element{}}
}

// firstSeen records key as seen at now and reports whether it was new, that
// is not seen within the TTL.
func (d *deliverySet) firstSeen(key string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if el, ok := d.byKey[key]; ok {
		if now.Sub(el.Value.(*delivery).seen) < d.ttl {
			return false
		}
		d.order.Remove(el)
		delete(d.byKey, key)
	}
	d.byKey[key] = d.order.PushBack(&delivery{key: key, seen: now})
	for d.order.Len() > d.capacity {
		d.remove(d.order.Front())
	}
	return true
}

// expire forgets the oldest ids while they are past the TTL.
func (d *deliverySet) expire(now time.Time) {
	for el := d.order.Front(); el != nil; el = d.order.Front() {
		if now.Sub(el.Value.(*delivery).seen) < d.ttl {
			return
		}
		d.remove(el)
	}
}

func (d *deliverySet) remove(el *list.Element) {
	d.order.Remove(el)
	delete(d.byKey, el.Value.(*delivery).key)
}

// len returns how many ids are remembered.
func (d *deliverySet) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.order.Len()
}
