package main

import (
	"fmt"
	"io"

	"github.com/heraldhq/herald/internal/engine"
)

// printDeliveries prints the delivery receipts of a step and of its
// for_each items under the step's line of `runs show`.
func printDeliveries(w io.Writer, s engine.StepView) {
	if d := s.Delivery; d != nil {
		fmt.Fprintf(w, "  delivery\t%s\t\t\t%s\n", d.Status, shownTime(d.At))
	}
	for _, it := range s.Items {
		if d := it.Delivery; d != nil {
			fmt.Fprintf(w, "  item %d delivery\t%s\t\t\t%s\n", it.Index, d.Status, shownTime(d.At))
		}
	}
}
