package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testfigures"
)

// TestDeliveriesDeduplicateAcrossReplicas sends every webhook delivery,
// API trigger with an Idempotency-Key and provider event to all three
// replicas at once: each makes exactly one run, and every replica answers
// with that run.
func TestDeliveriesDeduplicateAcrossReplicas(t *testing.T) {
	t.Parallel()
	const keys = 30
	e := newEnv(t, modePostgres)
	e.project(`workflow "hooked" {
  trigger "webhook" {
    path = "hooked"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14150000001", body = "hook {{ trigger.body.n }}" }
  }
}
workflow "on-message" {
  trigger "event" {
    event    = "chatapi.message"
    provider = "chatapi"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14150000002", body = "event {{ trigger.event.id }}" }
  }
}
`)
	rs := []*replica{e.start("r1"), e.start("r2"), e.start("r3")}

	type answer struct {
		kind, key string
		runID     string
	}
	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
	)
	// Called from the senders' goroutines, so it asserts and does not stop
	// the test.
	record := func(kind, key string, status int, body []byte, field string) {
		assert.Equal(t, http.StatusAccepted, status, "%s", body)
		var res map[string]any
		assert.NoError(t, json.Unmarshal(body, &res), "%s", body)
		id := ""
		switch v := res[field].(type) {
		case string:
			id = v
		case []any:
			if len(v) == 1 {
				id, _ = v[0].(string)
			}
		}
		mu.Lock()
		answers = append(answers, answer{kind, key, id})
		mu.Unlock()
	}
	for k := range keys {
		for _, r := range rs {
			key := fmt.Sprintf("delivery-%d", k)
			wg.Go(func() {
				status, body := r.post(t, "/hooks/hooked", map[string]any{"n": k}, map[string]string{"Idempotency-Key": key})
				record("webhook", key, status, body, "run_ids")
			})
			wg.Go(func() {
				status, body := r.post(t, "/api/v1/workflows/hooked/runs", map[string]any{"n": k}, map[string]string{"Idempotency-Key": key})
				record("api", key, status, body, "run_id")
			})
			wg.Go(func() {
				msg := map[string]any{"instanceId": "229607", "messages": []any{map[string]any{
					"id": fmt.Sprintf("false_14150000009@c.us_%04d", k), "body": "hi", "type": "chat", "fromMe": false,
					"chatId": "14150000009@c.us", "author": "14150000009@c.us",
				}}}
				status, body := r.post(t, "/providers/chatapi/webhook", msg, nil)
				assert.Equal(t, http.StatusOK, status, "%s", body)
			})
		}
	}
	wg.Wait()

	// Every replica answered a repeated key with the same run.
	byKey := map[string]map[string]bool{}
	for _, a := range answers {
		require.NotEmpty(t, a.runID, "%s %s", a.kind, a.key)
		k := a.kind + "/" + a.key
		if byKey[k] == nil {
			byKey[k] = map[string]bool{}
		}
		byKey[k][a.runID] = true
	}
	split := 0
	for _, ids := range byKey {
		if len(ids) != 1 {
			split++
		}
	}

	var runs []store.Run
	waitFor(t, time.Minute, "the runs to finish", func() bool {
		var err error
		runs, err = e.store().ListRuns(context.Background(), store.RunFilter{})
		require.NoError(t, err)
		for _, r := range runs {
			if !r.Status.Final() {
				return false
			}
		}
		return len(runs) >= 3*keys
	})
	perKind := map[string]int{}
	for _, r := range runs {
		trig, err := engine.DecodeTrigger(r.Trigger)
		require.NoError(t, err)
		perKind[trig.Kind]++
	}
	msg := fmt.Sprintf("dedupe test: 3 replicas, %d keys, each webhook delivery, Idempotency-Key API trigger and provider event sent to every replica at once: runs by trigger %v (want %d each), keys answered with different runs %d",
		keys, perKind, keys, split)
	testfigures.Report(t, msg)
	require.Zero(t, split, "every replica answers a key with the same run")
	require.Equal(t, map[string]int{engine.KindWebhook: keys, engine.KindManual: keys, engine.KindEvent: keys}, perKind)
}
