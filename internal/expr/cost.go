package expr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
)

// boundedInputs is the size estimator used when a project loads: every value
// an expression reads through a variable (trigger.body, vars.x, item, a
// step's output, any element of them) is assumed to hold at most
// inputSizeBound bytes or elements.
type boundedInputs struct{}

func (boundedInputs) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if len(n.Path()) == 0 {
		return nil
	}
	return &cost.SizeEstimate{Min: 0, Max: inputSizeBound}
}

func (boundedInputs) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}

// guardedEstimates bound the guarded functions by what their guards allow:
// a result of at most MaxValueSize, built from an input that may be as long
// as inputSizeBound. Without them, a join of joins would be estimated from
// the product of the sizes, which the guards make impossible.
var guardedEstimates = func() []cost.Option {
	var opts []cost.Option
	for id := range guarded {
		opts = append(opts, cost.OverloadCostEstimate(id, func(cost.Estimator, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
			work := cost.CostEstimate{Min: 1, Max: 1 + inputSizeBound + MaxValueSize/10}
			size := cost.SizeEstimate{Min: 0, Max: MaxValueSize}
			return cost.NewCallEstimate(work, &size)
		}))
	}
	return opts
}()

// unknownInputs leaves every input's size unknown, so an estimate with it is
// finite only when the expression's cost does not depend on the sizes of
// what it reads.
type unknownInputs struct{}

func (unknownInputs) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

func (unknownInputs) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}

// costPlan is what estimating an expression decides: whether it may load, and
// whether its evaluations must be metered.
type costPlan struct {
	// problem is set when the worst case is above MaxEstimatedCost.
	problem string
	// metered is set when the cost depends on the size of the inputs, so
	// each evaluation is metered against MaxCost; an expression whose cost
	// is bounded whatever it reads runs without the meter's overhead.
	metered bool
}

func (c *Compiler) plan(checked *cel.Ast) costPlan {
	fixed, err := c.env.EstimateCost(checked, unknownInputs{})
	if err == nil && fixed.Max <= MaxCost {
		return costPlan{}
	}
	worst, err := c.env.EstimateCost(checked, boundedInputs{}, guardedEstimates...)
	if err != nil {
		return costPlan{metered: true}
	}
	if worst.Max > MaxEstimatedCost {
		cost := "unbounded"
		if worst.Max < math.MaxUint64 {
			cost = fmt.Sprintf("about %.0e", float64(worst.Max))
		}
		return costPlan{metered: true, problem: fmt.Sprintf(
			"the expression is too expensive: its worst-case cost is %s, above the limit of %.0e "+
				"(loops nested three or more deep over input data cannot finish on large inputs; "+
				"the estimate assumes each value read may be up to %s)",
			cost, float64(MaxEstimatedCost), sizeText(inputSizeBound))}
	}
	return costPlan{metered: true}
}

// programOptions are the options of a program, metered or not.
func programOptions(metered bool) []cel.ProgramOption {
	opts := []cel.ProgramOption{
		cel.EvalOptions(cel.OptOptimize),
		cel.InterruptCheckFrequency(interruptCheckFrequency),
	}
	if metered {
		opts = append(opts, cel.CostLimit(MaxCost))
	}
	return opts
}

// evalError describes why an evaluation failed, saying so plainly when it
// was stopped by its context or by the cost limit.
func evalError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("evaluation stopped: %w", context.Cause(ctx))
	}
	if strings.Contains(err.Error(), "cost limit exceeded") {
		return errors.New("evaluation stopped: it exceeded the cost limit of " + fmt.Sprint(MaxCost) + " (too much work for one expression)")
	}
	return err
}
