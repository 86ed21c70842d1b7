package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store/pgstore"
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

// feedBatch caps the notifications one statement sends.
const feedBatch = 100

// maxFeedError caps the error text of an event on the channel.
const maxFeedError = 2000

// feedBuffer is how many events may wait to be sent before new ones are
// dropped (counted in the log), so a slow database never slows a run.
const feedBuffer = 4096

// feedCheck is how often a replica that sends events looks whether another
// replica listens (see feed.sharing): a replica that joins says so at once,
// so this only bounds how long a replica goes on sending after the last
// other one left. (Once a second, the count was 1.5% of PostgreSQL's
// on-CPU samples in the scale-out closed loop.)
const feedCheck = 5 * time.Second

// helloPrefix begins the notification a replica sends once it listens, so
// that the replicas that found no other listener send their events again
// at once; the origin follows.
const helloPrefix = "hello:"

// sharedEvents are the engine events a cluster's replicas share: a run's
// and its steps' transitions. Rate-limit events stay with their replica.
var sharedEvents = map[engine.EventType]bool{
	engine.RunStarted: true, engine.RunFinished: true, engine.RunWaiting: true,
	engine.StepStarted: true, engine.StepFinished: true, engine.ItemFinished: true,
	engine.AttemptFailed: true, engine.Reconciled: true, engine.DeliveryRecorded: true,
}

// feed carries this replica's run and step transitions to the other
// replicas of a cluster, and theirs to this replica's subscribers (the SSE
// endpoints and the console), so a console on any replica shows every run
// live, wherever it executes. It uses PostgreSQL NOTIFY on a channel named
// after the store's schema: one statement per batch of events, sent by a
// goroutine of its own, and LISTEN on a connection outside the pool. An
// event's error text is masked before it leaves the replica. Delivery is
// best effort, as for a slow SSE client: events sent while the listener
// reconnects are lost, and the API still answers with each run as stored.
//
// A replica that no other replica listens to (a lone replica) sends
// nothing: at most every feedCheck, while it has events to send, it counts
// the other listeners of the channel in pg_stat_activity (a listener's
// connection shows its LISTEN as its last statement), and a replica that
// starts listening says so on the channel at once, so that the others
// send again before it serves. A backend whose statement the store's role
// may not read counts as a listener.
type feed struct {
	pool    *pgxpool.Pool
	channel string
	origin  string // this replica's owner name: its own events come back
	// ownPrefix is how this replica's payloads begin; see own. Only the
	// listening goroutine touches it.
	ownPrefix string
	hub       *hub
	mask      func(string) string
	logger    hclog.Logger

	out     chan engine.Event
	dropped atomic.Int64
	cancel  context.CancelFunc
	done    sync.WaitGroup

	// listenPID is the server process of this replica's listening
	// connection, zero while there is none; listenSQL is its LISTEN.
	listenPID atomic.Uint32
	listenSQL string
	// alone is set while no other replica listens; hellos counts the
	// other replicas' hellos, so that a count of listeners read before one
	// does not set alone after it. mu guards both. checked is when the
	// send goroutine last counted (only it touches checked).
	mu      sync.Mutex
	alone   bool
	hellos  int64
	checked time.Time
	// sent counts the events notified, for tests.
	sent atomic.Int64
}

// feedEvent is an engine event on the channel, with the replica it comes
// from.
type feedEvent struct {
	Origin string `json:"origin"`
	engine.Event
}

// feedChannel returns the notification channel of a schema: a channel is
// one per database, so clusters on two schemas of one database keep apart.
func feedChannel(schema string) string {
	ch := "herald_events_" + schema
	if len(ch) > 63 { // PostgreSQL's identifier limit
		sum := sha256.Sum256([]byte(schema))
		ch = "herald_events_" + hex.EncodeToString(sum[:12])
	}
	return ch
}

// startFeed starts the feed of a replica named origin on st's database.
func startFeed(st *pgstore.Store, origin string, events *hub, mask func(string) string, logger hclog.Logger) *feed {
	ctx, cancel := context.WithCancel(context.Background())
	channel := feedChannel(st.Schema())
	f := &feed{pool: st.Pool(), channel: channel, origin: origin, hub: events, mask: mask,
		logger: logger, out: make(chan engine.Event, feedBuffer), cancel: cancel,
		listenSQL: "LISTEN " + pgx.Identifier{channel}.Sanitize()}
	f.done.Add(2)
	go func() { defer f.done.Done(); f.send(ctx) }()
	go func() { defer f.done.Done(); f.listen(ctx) }()
	return f
}

// close stops the feed.
func (f *feed) close() {
	f.cancel()
	f.done.Wait()
}

// publish queues a local event for the other replicas; it never blocks.
func (f *feed) publish(ev engine.Event) {
	if !sharedEvents[ev.Type] {
		return
	}
	select {
	case f.out <- ev:
	default:
		f.dropped.Add(1)
	}
}

// send notifies the queued events in batches until ctx ends.
func (f *feed) send(ctx context.Context) {
	batch := make([]string, 0, feedBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-f.out:
			batch = append(batch, f.encode(ev))
		}
	more:
		for len(batch) < feedBatch {
			select {
			case ev := <-f.out:
				batch = append(batch, f.encode(ev))
			default:
				break more
			}
		}
		if !f.sharing(ctx) {
			batch = batch[:0] // no other replica listens
			continue
		}
		if _, err := f.pool.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, f.channel, batch); err != nil {
			if ctx.Err() == nil {
				f.logger.Warn("could not share run events with the other replicas", "events", len(batch), "error", err)
			}
		} else {
			f.sent.Add(int64(len(batch)))
		}
		if n := f.dropped.Swap(0); n > 0 {
			f.logger.Warn("run events not shared with the other replicas: the queue was full", "events", n)
		}
		batch = batch[:0]
	}
}

// sharing reports whether another replica may listen, counting the
// channel's other listeners when the last count is feedCheck old. It
// shares when the count fails.
func (f *feed) sharing(ctx context.Context) bool {
	f.mu.Lock()
	alone, hellos := f.alone, f.hellos
	f.mu.Unlock()
	if time.Since(f.checked) < feedCheck {
		return !alone
	}
	f.checked = time.Now()
	var others int
	err := f.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid <> $1 AND pid <> pg_backend_pid()
		AND datname = current_database() AND (query = $2 OR query = '<insufficient privilege>')`,
		int64(f.listenPID.Load()), f.listenSQL).Scan(&others)
	f.mu.Lock()
	defer f.mu.Unlock()
	// A hello that came while counting is newer than the count.
	if f.hellos == hellos {
		f.alone = err == nil && others == 0
	}
	return !f.alone
}

// encode returns ev as a notification payload: its error text masked and
// cut to maxFeedError bytes, so the payload stays under PostgreSQL's 8,000.
func (f *feed) encode(ev engine.Event) string {
	ev.Error = f.mask(ev.Error)
	if len(ev.Error) > maxFeedError {
		ev.Error = strings.ToValidUTF8(ev.Error[:maxFeedError], "") + "…"
	}
	b, _ := json.Marshal(feedEvent{Origin: f.origin, Event: ev})
	return string(b)
}

// own reports whether payload is an event this replica sent, by the origin
// that encode writes first, so a replica's own events (every event, on a
// lone replica) come back without being decoded.
func (f *feed) own(payload string) bool {
	if f.ownPrefix == "" {
		origin, _ := json.Marshal(f.origin)
		f.ownPrefix = `{"origin":` + string(origin) + `,`
	}
	return strings.HasPrefix(payload, f.ownPrefix)
}

// listen hands the other replicas' events to the hub until ctx ends,
// reconnecting after a failure.
func (f *feed) listen(ctx context.Context) {
	for {
		err := f.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		f.logger.Warn("lost the other replicas' run events; listening again in a second", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// listenOnce listens on a connection of its own until it fails.
func (f *feed) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, f.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, f.listenSQL); err != nil {
		return err
	}
	f.listenPID.Store(conn.PgConn().PID())
	defer f.listenPID.Store(0)
	// Sent from the pool: the listening connection's last statement stays
	// its LISTEN, which the others count.
	if _, err := f.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, f.channel, helloPrefix+f.origin); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if f.own(n.Payload) {
			continue // this replica's own event, published here already
		}
		if origin, ok := strings.CutPrefix(n.Payload, helloPrefix); ok {
			if origin != f.origin {
				f.mu.Lock()
				f.hellos++
				f.alone = false
				f.mu.Unlock()
			}
			continue
		}
		var fe feedEvent
		if err := json.Unmarshal([]byte(n.Payload), &fe); err != nil {
			f.logger.Debug("ignored a run event that does not decode", "error", err)
			continue
		}
		if fe.Origin == f.origin {
			continue
		}
		f.hub.publish(fe.Event)
	}
}

// mask masks the project's secrets in s, once the host is open.
func (s *Server) mask(text string) string {
	if text == "" || s.host == nil {
		return text
	}
	return s.host.Engine.Masker().String(text)
}
