package herald_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"

	"github.com/heraldhq/herald/herald"
	"github.com/heraldhq/herald/sdk"
)

// ledger is an in-process provider that counts the entries it books.
type ledger struct{ booked atomic.Int32 }

func (l *ledger) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "ledger",
		Version: "1.0.0",
		Actions: []sdk.Action{{
			Name:  "book",
			Input: sdk.Fields(sdk.Number("amount", "Amount to book.").AsRequired()),
			Run: func(context.Context, *sdk.Call) (any, error) {
				return map[string]any{"entry": l.booked.Add(1)}, nil
			},
		}},
	}
}

// Start with an idempotency key creates one run however often it is
// called with that key (within herald.IdempotencyTTL): a client retrying a
// request it is unsure went through does not book twice. Wait then waits
// for the run to end.
func ExampleHerald_Start() {
	ctx := context.Background()
	books := &ledger{}
	h, err := herald.New(ctx, herald.Options{
		Files: map[string][]byte{"billing.yaml": []byte(`
providers:
  ledger: {}
workflows:
  charge:
    steps:
      - id: book
        uses: ledger.book
        with: {amount: "{{ trigger.body.amount }}"}
`)},
		Providers: []sdk.Provider{books},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	input := map[string]any{"amount": 42.5}
	first, err := h.Start(ctx, "charge", input, "invoice-1001")
	if err != nil {
		log.Fatal(err)
	}
	second, err := h.Start(ctx, "charge", input, "invoice-1001")
	if err != nil {
		log.Fatal(err)
	}
	run, err := h.Wait(ctx, first)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same run:", first == second)
	fmt.Println("status:", run.Status)
	fmt.Println("booked:", books.booked.Load())
	// Output:
	// same run: true
	// status: succeeded
	// booked: 1
}
