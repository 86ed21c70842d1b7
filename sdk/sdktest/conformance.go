package sdktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/sdk"
)

// Options describes how to exercise a provider in Conformance.
type Options struct {
	// Instance is the instance name the suite configures; default "test".
	Instance string
	// Config returns a valid instance config that points the provider's API
	// at baseURL. Give sensitive fields distinctive values (not "1" or
	// "x"): the suite asserts they never appear in dry-run output.
	Config func(baseURL string) map[string]any
	// Fake is the provider's fake API, answering like the real one.
	Fake http.Handler
	// Inputs holds a valid input per action to exercise. Every action without
	// one is reported as a failure unless it is listed in Skip.
	Inputs map[string]map[string]any
	// Skip lists actions that are not exercised; say why in a comment.
	Skip []string
	// ReconcileUnsent holds, per action with a reconcile handler, an input
	// that was never sent, for the not_found check. Without one the check
	// uses the action's Inputs with the attempt's start an hour ahead, which
	// suits handlers that match sends at or after that start; a handler that
	// looks sends up by a key regardless of time (a contact's identifier)
	// needs an input with a key the fake never saw.
	ReconcileUnsent map[string]map[string]any
}

// errorMessage is what the suite's failing servers put in their 400 bodies.
const errorMessage = "sdktest: the phone number is not on the allow list"

// Conformance checks p against the rules every Herald provider follows, over
// the real gRPC transport (Serve), as subtests:
//
//   - spec: type and version are set; action names are unique and
//     snake_case; field names are unique; schema types are known; patterns
//     compile; exactly_one_of names exist; defaults are valid for their
//     field; events are named <type>.<name>; every action has a handler.
//   - coverage: every action has an input in Options.Inputs or is skipped.
//   - unknown_action: invoking an undeclared action is a permanent error
//     naming it.
//   - actions/<name>/live: against Options.Fake the call succeeds and its
//     output validates against the action's output schema.
//   - actions/<name>/dry_run: nothing is sent; the output lists the rendered
//     requests (when the live call sent any) and no raw sensitive value.
//   - actions/<name>/missing_required: an input without a required field is a
//     permanent error whose Field names it, and nothing is sent.
//   - errors: with the first action that sends HTTP, a 429 with Retry-After: 7
//     is rate_limited with RetryAfter 7s, a 500 is retryable, a 400 with a
//     JSON error is permanent carrying the provider's message, a 401 is
//     permanent.
//   - actions/<name>/reconcile (actions that declare a reconcile handler):
//     after a live send, reconcile with the same input, idempotency key and
//     the attempt's start answers found with an output that validates
//     against the output schema; for an input never sent (see
//     Options.ReconcileUnsent) it answers not_found; against an API that
//     answers 503 it answers unknown or a non-permanent error. In all three
//     the handler sends nothing: any request to the fake other than GET or
//     HEAD fails the test.
//   - cancellation: a call to a server that never answers, cancelled once
//     its request reached the server, returns promptly with a retryable or
//     in_doubt error (in doubt when the request was written) and the
//     provider abandons its request.
func Conformance(t *testing.T, p sdk.Provider, opts Options) {
	t.Helper()
	if opts.Instance == "" {
		opts.Instance = "test"
	}
	if opts.Config == nil || opts.Fake == nil {
		t.Fatal("sdktest: Options.Config and Options.Fake are required")
	}
	local := p.Spec()
	spec, err := Serve(t, p).Describe(context.Background())
	if err != nil {
		t.Fatalf("describe over gRPC: %v", err)
	}
	s := &suite{p: p, opts: opts, spec: spec, sent: map[string]int64{}}

	t.Run("spec", func(t *testing.T) {
		for _, problem := range specProblems(spec) {
			t.Error(problem)
		}
		if local.Type != spec.Type {
			t.Errorf("type %q became %q over gRPC", local.Type, spec.Type)
		}
		for _, a := range local.Actions {
			if a.Run == nil {
				t.Errorf("action %q has no handler (Run is nil)", a.Name)
			}
			if remote, ok := spec.Action(a.Name); ok && !reflect.DeepEqual(a.Delivery, remote.Delivery) {
				t.Errorf("action %q: delivery %+v became %+v over gRPC", a.Name, a.Delivery, remote.Delivery)
			}
		}
	})
	t.Run("coverage", s.coverage)
	t.Run("unknown_action", s.unknownAction)
	t.Run("actions", func(t *testing.T) {
		for _, a := range spec.Actions {
			if _, ok := opts.Inputs[a.Name]; !ok || slices.Contains(opts.Skip, a.Name) {
				continue
			}
			t.Run(a.Name, func(t *testing.T) {
				t.Run("live", func(t *testing.T) { s.live(t, a) })
				t.Run("dry_run", func(t *testing.T) { s.dryRun(t, a) })
				t.Run("missing_required", func(t *testing.T) { s.missingRequired(t, a) })
				if a.CanReconcile() {
					t.Run("reconcile", func(t *testing.T) { s.reconcile(t, a) })
				}
			})
		}
	})
	t.Run("errors", s.errorClasses)
	t.Run("cancellation", s.cancellation)
}

type suite struct {
	p    sdk.Provider
	opts Options
	spec *sdk.Spec

	mu sync.Mutex
	// sent counts the requests each action's live call made to the fake.
	sent map[string]int64
}

func (s *suite) coverage(t *testing.T) {
	for _, a := range s.spec.Actions {
		_, hasInput := s.opts.Inputs[a.Name]
		if !hasInput && !slices.Contains(s.opts.Skip, a.Name) {
			t.Errorf("action %q has no input in Options.Inputs and is not in Options.Skip", a.Name)
		}
	}
	for name := range s.opts.Inputs {
		if _, ok := s.spec.Action(name); !ok {
			t.Errorf("Options.Inputs has %q, which is not an action of %s", name, s.spec.Type)
		}
	}
	for _, name := range s.opts.Skip {
		if _, ok := s.spec.Action(name); !ok {
			t.Errorf("Options.Skip has %q, which is not an action of %s", name, s.spec.Type)
		}
	}
}

// counter wraps a handler and counts the requests it receives.
type counter struct {
	n atomic.Int64
	h http.Handler
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

// setup serves h on a local test server and returns a client of p with the
// instance configured against it, plus the config used.
func (s *suite) setup(t *testing.T, h http.Handler) (sdk.Client, map[string]any) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := Serve(t, s.p)
	cfg := s.opts.Config(srv.URL)
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("encode config: %v", err)
	}
	if err := client.Configure(context.Background(), s.opts.Instance, raw); err != nil {
		t.Fatalf("configure %q with Options.Config: %v", s.opts.Instance, err)
	}
	return client, cfg
}

func (s *suite) invoke(t *testing.T, ctx context.Context, client sdk.Client, action string, input map[string]any, dryRun bool) (json.RawMessage, error) {
	t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatalf("encode input: %v", err)
	}
	return client.Invoke(ctx, &sdk.InvokeRequest{
		Instance:       s.opts.Instance,
		Action:         action,
		Input:          raw,
		IdempotencyKey: "sdktest-" + action,
		Attempt:        1,
		DryRun:         dryRun,
	})
}

func (s *suite) unknownAction(t *testing.T) {
	client, _ := s.setup(t, http.NotFoundHandler())
	const name = "no_such_action_sdktest"
	_, err := s.invoke(t, context.Background(), client, name, map[string]any{}, false)
	e := requireClass(t, err, sdk.ClassPermanent)
	if e != nil && !strings.Contains(e.Message, name) {
		t.Errorf("error %q does not name the action %q", e.Message, name)
	}
}

func (s *suite) live(t *testing.T, a sdk.Action) {
	fake := &counter{h: s.opts.Fake}
	client, _ := s.setup(t, fake)
	out, err := s.invoke(t, context.Background(), client, a.Name, s.opts.Inputs[a.Name], false)
	if err != nil {
		t.Fatalf("invoke %s against the fake: %v", a.Name, describe(err))
	}
	s.mu.Lock()
	s.sent[a.Name] = fake.n.Load()
	s.mu.Unlock()
	obj, err := decodeObject(out)
	if err != nil {
		t.Fatalf("output of %s: %v: %s", a.Name, err, out)
	}
	for _, fe := range a.Output.Validate(obj, sdk.ValidateOptions{}) {
		t.Errorf("output of %s does not match its output schema: %v\noutput: %s", a.Name, fe, out)
	}
}

func (s *suite) dryRun(t *testing.T, a sdk.Action) {
	fake := &counter{h: s.opts.Fake}
	client, cfg := s.setup(t, fake)
	out, err := s.invoke(t, context.Background(), client, a.Name, s.opts.Inputs[a.Name], true)
	if err != nil {
		t.Fatalf("dry-run %s: %v", a.Name, describe(err))
	}
	if n := fake.n.Load(); n != 0 {
		t.Errorf("dry-run of %s sent %d request(s); it must send nothing", a.Name, n)
	}
	for _, name := range s.spec.Config.SensitiveFields() {
		secret := sdk.Config(cfg).String(name)
		if secret == "" {
			continue
		}
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), jsonString(secret)} {
			if strings.Contains(string(out), form) {
				t.Errorf("dry-run output of %s shows the value of sensitive config field %q; it must be masked as %s\noutput: %s", a.Name, name, sdk.Masked, out)
				break
			}
		}
	}
	s.mu.Lock()
	sent, ran := s.sent[a.Name]
	s.mu.Unlock()
	if !ran || sent == 0 {
		return
	}
	var rendered struct {
		DryRun   bool                  `json:"dry_run"`
		Requests []sdk.RenderedRequest `json:"requests"`
	}
	if err := json.Unmarshal(out, &rendered); err != nil || !rendered.DryRun || len(rendered.Requests) == 0 {
		t.Fatalf("the live call of %s sent %d request(s), but its dry-run output lists none; want {\"dry_run\": true, \"requests\": [...]}\noutput: %s", a.Name, sent, out)
	}
	for i, r := range rendered.Requests {
		if r.Method == "" || r.URL == "" {
			t.Errorf("rendered request %d of %s lacks a method or URL: %+v", i, a.Name, r)
		}
	}
}

func (s *suite) missingRequired(t *testing.T, a sdk.Action) {
	var required []string
	for _, f := range a.Input.Fields {
		if f.Required {
			required = append(required, f.Name)
		}
	}
	if len(required) == 0 {
		t.Skipf("action %s has no required input field", a.Name)
	}
	fake := &counter{h: s.opts.Fake}
	client, _ := s.setup(t, fake)
	for _, name := range required {
		input := map[string]any{}
		for k, v := range s.opts.Inputs[a.Name] {
			if k != name {
				input[k] = v
			}
		}
		_, err := s.invoke(t, context.Background(), client, a.Name, input, false)
		if e := requireClass(t, err, sdk.ClassPermanent); e != nil && e.Field != name {
			t.Errorf("input without required field %q: error Field is %q, want %q (error: %v)", name, e.Field, name, e)
		}
	}
	if n := fake.n.Load(); n != 0 {
		t.Errorf("invalid inputs of %s sent %d request(s); validation must fail before sending", a.Name, n)
	}
}

// httpAction returns the first exercised action whose live call sent a
// request to the fake.
func (s *suite) httpAction() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.spec.Actions {
		if s.sent[a.Name] > 0 {
			return a.Name, true
		}
	}
	return "", false
}

func (s *suite) errorClasses(t *testing.T) {
	action, ok := s.httpAction()
	if !ok {
		t.Skip("no exercised action sent an HTTP request to the fake")
	}
	body := map[string]any{}
	for _, k := range []string{"error", "message", "msg", "description", "detail", "title"} {
		body[k] = errorMessage
	}
	errBody, _ := json.Marshal(body)
	cases := []struct {
		name   string
		status int
		header map[string]string
		check  func(t *testing.T, e *sdk.Error)
	}{
		{"429_retry_after", http.StatusTooManyRequests, map[string]string{"Retry-After": "7"}, func(t *testing.T, e *sdk.Error) {
			if e.Class != sdk.ClassRateLimited || e.RetryAfter != 7*time.Second {
				t.Errorf("HTTP 429 with Retry-After: 7 gave %s with RetryAfter %s; want rate_limited with 7s (error: %v)", e.Class, e.RetryAfter, e)
			}
		}},
		{"500", http.StatusInternalServerError, nil, func(t *testing.T, e *sdk.Error) {
			if e.Class != sdk.ClassRetryable {
				t.Errorf("HTTP 500 gave %s, want retryable (error: %v)", e.Class, e)
			}
		}},
		{"400_json_error", http.StatusBadRequest, nil, func(t *testing.T, e *sdk.Error) {
			if e.Class != sdk.ClassPermanent {
				t.Errorf("HTTP 400 gave %s, want permanent (error: %v)", e.Class, e)
			}
			if !strings.Contains(e.Message, errorMessage) {
				t.Errorf("HTTP 400 error %q does not carry the provider's message %q", e.Message, errorMessage)
			}
		}},
		{"401", http.StatusUnauthorized, nil, func(t *testing.T, e *sdk.Error) {
			if e.Class != sdk.ClassPermanent {
				t.Errorf("HTTP 401 gave %s, want permanent (error: %v)", e.Class, e)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write(errBody)
			})
			client, _ := s.setup(t, h)
			_, err := s.invoke(t, context.Background(), client, action, s.opts.Inputs[action], false)
			if err == nil {
				t.Fatalf("%s against a server answering HTTP %d succeeded", action, tc.status)
			}
			tc.check(t, sdk.AsError(err))
		})
	}
}

func (s *suite) cancellation(t *testing.T) {
	action, ok := s.httpAction()
	if !ok {
		t.Skip("no exercised action sent an HTTP request to the fake")
	}
	arrived := make(chan struct{}, 16)
	abandoned := make(chan struct{}, 16)
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// net/http notices a closed connection only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
			abandoned <- struct{}{}
		case <-release:
		}
	})
	client, _ := s.setup(t, h)
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers

	// The call is cancelled once its request reached the server (not
	// after a fixed time, which a loaded machine may spend before the
	// request is sent), or after 10 s if it never does.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type cancellation struct {
		at      time.Time
		reached bool
	}
	cancelled := make(chan cancellation, 1)
	go func() {
		var c cancellation
		select {
		case <-arrived:
			c.reached = true
		case <-time.After(10 * time.Second):
		case <-ctx.Done(): // the call ended first
		}
		c.at = time.Now()
		cancel()
		cancelled <- c
	}()
	_, err := s.invoke(t, ctx, client, action, s.opts.Inputs[action], false)
	returned := time.Now()
	cancel()
	c := <-cancelled
	if err == nil {
		t.Fatalf("%s against a server that never answers succeeded", action)
	}
	if !c.reached {
		t.Fatalf("%s did not reach the server (within 10 s, before it returned %v)", action, err)
	}
	elapsed := returned.Sub(c.at)
	// The request reached the server, so a send is in doubt; a lookup (GET)
	// is simply retryable.
	if e := sdk.AsError(err); e.Class != sdk.ClassRetryable && e.Class != sdk.ClassInDoubt {
		t.Errorf("cancelled call gave %s, want retryable or in_doubt (error: %v)", e.Class, e)
	}
	if elapsed > 2*time.Second {
		t.Errorf("cancelled call returned %s after its cancellation; want at once", elapsed)
	}
	select {
	case <-abandoned:
	case <-time.After(5 * time.Second):
		t.Errorf("the provider did not abandon its HTTP request when the call was cancelled: pass the call's context to HTTP.Do")
	}
}

// requireClass reports an error unless err is a classified error of class,
// and returns it.
func requireClass(t *testing.T, err error, class sdk.ErrorClass) *sdk.Error {
	t.Helper()
	if err == nil {
		t.Errorf("call succeeded; want a %s error", class)
		return nil
	}
	e := sdk.AsError(err)
	if e.Class != class {
		t.Errorf("error class is %s, want %s (error: %v)", e.Class, class, e)
	}
	return e
}

// describe formats a classified error with its class, for failure messages.
func describe(err error) string {
	e := sdk.AsError(err)
	return string(e.Class) + ": " + e.Error()
}

func decodeObject(raw json.RawMessage) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
