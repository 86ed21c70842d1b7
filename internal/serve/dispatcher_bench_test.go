package serve

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/sdk"
)

// BenchmarkSubmitBusy submits runs of a one-step workflow from as many
// goroutines as there are workers (4 workers, 4 submitters on 2 CPUs, a
// provider that answers at once, SQLite), each submitting its next run once
// its last one's message was sent, as the bench's closed loop does: the
// workers are all busy now and then, some with runs that wait only for
// their finish commit. It reports how many
// runs per submit were created queued (queued/op: no worker took them
// eagerly) beside the process's allocations; callgrind's instructions of a
// fixed -benchtime give the CPU per run.
//
//	go test ./internal/serve -run '^$' -bench SubmitBusy -benchtime 1000x
func BenchmarkSubmitBusy(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := &journal{}
	release := make(chan struct{})
	close(release)
	// sent holds a channel per run, closed by the run's send.
	var sent sync.Map
	sentCh := func(id string) chan struct{} {
		ch, _ := sent.LoadOrStore(id, make(chan struct{}))
		return ch.(chan struct{})
	}
	onSend := func(c *sdk.Call) {
		id, _, _ := strings.Cut(c.IdempotencyKey, "/")
		close(sentCh(id))
	}
	l, p, _ := blockerRunner(b, ctx, blocker{j: j, release: release, onSend: onSend}, 4)
	wf := p.Workflows["w"]
	c := creation{engine: l.engine(), workflow: "w", trig: engine.Trigger{Kind: engine.KindWebhook}}
	for range 20 {
		_, _, err := l.submit(ctx, wf, c)
		require.NoError(b, err)
	}
	count := func() int {
		n := 0
		for _, e := range j.list() {
			if strings.HasPrefix(e, "created ") {
				n++
			}
		}
		return n
	}
	eager0 := count()
	b.SetParallelism(4 / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			run, _, err := l.submit(ctx, wf, c)
			if err != nil {
				b.Error(err)
				return
			}
			// As a client of the bench's closed loop: the next message
			// once this one is delivered.
			<-sentCh(run.ID)
		}
	})
	require.Eventually(b, func() bool { a, w := l.disp.stats(); return a == 0 && w == 0 }, time.Minute, time.Millisecond)
	b.StopTimer()
	b.ReportMetric(float64(b.N-(count()-eager0))/float64(b.N), "queued/op")
}
