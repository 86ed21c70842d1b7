package console_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlitestore"
	"github.com/heraldhq/herald/sdk"
)

// seedRuns writes n runs of digest straight into a new SQLite store (a
// tenth of them failed), each with a step record and an attempt, and
// returns the store and the id of a run in the middle.
func seedRuns(b *testing.B, n int) (store.Store, string) {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "herald.db")
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	runStmt, err := tx.PrepareContext(ctx, `INSERT INTO runs (id, workflow, status, trigger_json, attempt, trigger_kind,
		error, created_at, started_at, finished_at) VALUES (?, 'digest', ?, ?, 1, 'webhook', ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	// A step's first attempt lives in its record's row, as the store writes it
	// (sqlitestore migration 0009).
	recStmt, err := tx.PrepareContext(ctx, `INSERT INTO step_records (run_id, step_id, item, status, attempts, provider,
		output_json, started_at, finished_at, first_provider, first_action, first_status, first_outcome,
		first_request_json, first_response_json, first_started_at, first_finished_at)
		VALUES (?1, 'notify', -1, ?2, 1, 'chatapi', '{"sent":true}', ?3, ?3, 'chatapi', 'send_message', ?2, ?4,
		?5, '{"status":200,"body":"{\"sent\":true}"}', ?3, ?3)`)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-30 * 24 * time.Hour).UTC()
	const layout = "2006-01-02T15:04:05.000000Z"
	var middle string
	for i := range n {
		id := store.NewRunID()
		if i == n/2 {
			middle = id
		}
		status, errText, outcome := "succeeded", "", "succeeded"
		if i%10 == 0 {
			status, errText, outcome = "failed", "step notify failed: HTTP 500", "retryable"
		}
		at := start.Add(time.Duration(i) * 20 * time.Millisecond).Format(layout)
		trig := fmt.Sprintf(`{"kind":"webhook","body":{"text":"disk full on db-%d"}}`, i)
		if _, err := runStmt.ExecContext(ctx, id, status, trig, errText, at, at, at); err != nil {
			b.Fatal(err)
		}
		req := fmt.Sprintf(`{"method":"POST","url":"https://api.chat-api.com/instance1/sendMessage?token=***","body":"{\"phone\":\"14155550123\",\"body\":\"disk full on db-%d\"}"}`, i)
		if _, err := recStmt.ExecContext(ctx, id, status, at, outcome, req); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	st, err = sqlitestore.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st, middle
}

// BenchmarkRunsPage measures the console's runs pages, server time, with
// 100,000 runs in the store, beside the same pages with 100 runs as the
// baseline: keyset pagination on the store's indexes keeps every page,
// the newest or one deep in the history, filtered or not, as cheap as with
// a small store. The run page (a run with its history) is measured the
// same way.
func BenchmarkRunsPage(b *testing.B) {
	p := loadProject(b)
	masker := sdk.NewMasker(p.MaskValues()...)
	for _, n := range []int{100, 100_000} {
		st, middle := seedRuns(b, n)
		fb := &fakeBackend{project: p, st: st}
		c, err := console.New(fb, console.Options{Prefix: "/ui", Masker: func() *sdk.Masker { return masker }})
		if err != nil {
			b.Fatal(err)
		}
		for _, page := range []struct{ name, target string }{
			{"newest", "/ui/runs"},
			{"failed", "/ui/runs?status=failed&workflow=digest"},
			{"webhook-since", "/ui/runs?trigger=webhook&since=" + time.Now().Add(-30*24*time.Hour+15*time.Minute).UTC().Format("2006-01-02T15:04")},
			{"deep-page", "/ui/runs?before=" + middle},
			{"run", "/ui/runs/" + middle},
		} {
			b.Run(fmt.Sprintf("runs=%d/%s", n, page.name), func(b *testing.B) {
				var worst time.Duration
				for b.Loop() {
					r := httptest.NewRequest(http.MethodGet, page.target, nil)
					r.RemoteAddr = "127.0.0.1:1"
					w := httptest.NewRecorder()
					t0 := time.Now()
					c.ServeHTTP(w, r)
					worst = max(worst, time.Since(t0))
					if w.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", page.target, w.Code, w.Body)
					}
				}
				b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
			})
		}
	}
}
