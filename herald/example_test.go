package herald_test

import (
	"context"
	"fmt"
	"log"

	"github.com/heraldhq/herald/herald"
	"github.com/heraldhq/herald/sdk"
)

// console is an in-process provider: its one action prints a line.
type console struct{}

func (console) Spec() *sdk.Spec {
	return &sdk.Spec{
		Type:    "console",
		Version: "1.0.0",
		Actions: []sdk.Action{{
			Name:   "print",
			Input:  sdk.Fields(sdk.String("text", "What to print.").AsRequired()),
			Output: sdk.Fields(sdk.Integer("length", "How many characters were printed.")),
			Run: func(_ context.Context, call *sdk.Call) (any, error) {
				text := call.Input["text"].(string)
				fmt.Println("console:", text)
				return map[string]any{"length": len(text)}, nil
			},
		}},
	}
}

// A project given as bytes runs a workflow with a provider served
// in-process: no plugin binary, no project directory, and a throw-away
// store.
func Example() {
	ctx := context.Background()
	h, err := herald.New(ctx, herald.Options{
		Files: map[string][]byte{"greet.hcl": []byte(`
provider "console" {}

workflow "greet" {
  step "hello" {
    uses = "console.print"
    with = { text = "Hello, {{ trigger.body.name }}!" }
  }
  step "count" {
    uses = "console.print"
    with = { text = "That was {{ steps.hello.output.length }} characters." }
  }
}
`)},
		Providers: []sdk.Provider{console{}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	run, err := h.Run(ctx, "greet", map[string]any{"name": "Ada"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("run", run.Workflow, run.Status)
	for _, s := range run.Steps {
		fmt.Println("step", s.ID, s.Status, string(s.Output))
	}
	// Output:
	// console: Hello, Ada!
	// console: That was 11 characters.
	// run greet succeeded
	// step hello succeeded {"length":11}
	// step count succeeded {"length":23}
}
