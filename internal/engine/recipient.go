package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"

	"github.com/heraldhq/herald/internal/config"
)

// recipientKeys finds the recipient of a call, which a per-recipient limit
// counts by: an input field or a CEL expression over input, as the plugin
// declares. Compiled expressions are kept by source.
type recipientKeys struct {
	mu    sync.Mutex
	progs map[string]cel.Program
}

// key returns the recipient of a call with input under rl, or "" when the
// input names none (that call is not limited per recipient).
func (r *recipientKeys) key(rl *config.RecipientLimit, input json.RawMessage) (string, error) {
	var in map[string]any
	if err := json.Unmarshal(input, &in); err != nil {
		return "", fmt.Errorf("recipient of the call: %w", err)
	}
	var v any = in
	if rl.Field != "" {
		for _, part := range strings.Split(rl.Field, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return "", nil
			}
			v = m[part]
		}
	} else {
		prog, err := r.program(rl.Expr)
		if err != nil {
			return "", err
		}
		out, _, err := prog.Eval(map[string]any{"input": in})
		if err != nil {
			// A key the input does not have: no recipient to count.
			return "", nil
		}
		v = out.Value()
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return fmt.Sprint(v), nil
}

// program compiles the recipient expression src, once.
func (r *recipientKeys) program(src string) (cel.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.progs[src]; ok {
		return p, nil
	}
	env, err := cel.NewEnv(cel.Variable("input", cel.DynType))
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("recipient expression %q: %w", src, iss.Err())
	}
	p, err := env.Program(ast)
	if err != nil {
		return nil, fmt.Errorf("recipient expression %q: %w", src, err)
	}
	if r.progs == nil {
		r.progs = map[string]cel.Program{}
	}
	r.progs[src] = p
	return p, nil
}
