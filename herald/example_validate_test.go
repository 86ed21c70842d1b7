package herald_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/heraldhq/herald/herald"
	"github.com/heraldhq/herald/sdk"
)

// pager is an in-process provider with one action.
type pager struct{}

func (pager) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "pager",
		Version: "1.0.0",
		Config:  sdk.Fields(sdk.String("token", "API token.").AsRequired().AsSensitive()),
		Actions: []sdk.Action{{
			Name: "page",
			Input: sdk.Fields(
				sdk.String("team", "Team to page.").AsRequired(),
				sdk.String("urgency", "How urgent it is.").OneOf("low", "high"),
			),
			Run: func(context.Context, *sdk.Call) (any, error) { return map[string]any{}, nil },
		}},
	}
}

// Validate checks a project the way `herald validate` does, against the
// schemas of the providers it uses, and reports every problem with its
// position. New refuses the same project with an *InvalidProjectError
// carrying the same diagnostics.
func ExampleValidate() {
	ctx := context.Background()
	opts := herald.Options{
		Files: map[string][]byte{"oncall.yaml": []byte(`
providers:
  pager:
    config: {token: "{{ secrets.PAGER_TOKEN }}"}
workflows:
  escalate:
    steps:
      - id: page
        uses: pager.page
        with: {team: ops, urgency: urgent}
      - id: page_again
        if: "steps.pgae.status == 'failed'"
        uses: pager.page
        with: {team: "{{ trigger.body.team }}"}
      - id: log
        uses: pager.log
`)},
		Providers: []sdk.Provider{pager{}},
		Secrets:   map[string]string{"PAGER_TOKEN": "pgr-0123456789"},
	}
	diags, err := herald.Validate(ctx, opts)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range diags {
		fmt.Println(d)
	}

	_, err = herald.New(ctx, opts)
	var invalid *herald.InvalidProjectError
	if errors.As(err, &invalid) {
		fmt.Printf("New: %d errors\n", len(invalid.Diagnostics.Errors()))
	}
	// Output:
	// oncall.yaml:10:27: with.urgency of pager.page: must be one of low, high, got "urgent"
	// oncall.yaml:12:13: if: "steps.pgae.status == 'failed'": unknown step "pgae" (earlier steps: page)
	// oncall.yaml:16:15: provider "pager" (type pager) has no action "log" (actions: page)
	// New: 3 errors
}
