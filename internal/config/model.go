package config

import (
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/sdk"
	"github.com/robfig/cron/v3"
)

// Defaults applied when a file leaves a setting out.
const (
	// DefaultTimeout bounds each attempt of a step.
	DefaultTimeout = 30 * time.Second
	// DefaultRetryAttempts is the attempts of a step with a retry block that
	// does not set max_attempts. A step without a retry block makes one
	// attempt.
	DefaultRetryAttempts = 3
	// DefaultInitialInterval is the wait before the first retry.
	DefaultInitialInterval = time.Second
	// DefaultMaxInterval caps the wait between retries.
	DefaultMaxInterval = time.Minute
	// DefaultMultiplier grows the wait after each retry.
	DefaultMultiplier = 2.0
	// DefaultParallelism is how many elements of a for_each step run at once.
	DefaultParallelism = 1
	// DefaultTimezone is the timezone of cron triggers.
	DefaultTimezone = "UTC"
)

// Project is a loaded, validated project directory.
type Project struct {
	// Dir is the directory the project was loaded from.
	Dir string `json:"-"`
	// Files are the project files read, in the order they were merged.
	Files []string `json:"-"`
	// Providers are the provider instances by name.
	Providers map[string]*Provider `json:"providers"`
	// Workflows are the workflows by name.
	Workflows map[string]*Workflow `json:"workflows"`
	// RequiredPlugins are the plugin versions the project accepts, by
	// provider type (required_plugins).
	RequiredPlugins map[string]*PluginRequirement `json:"required_plugins,omitempty"`
	// Secrets maps the name of every secret the project reads anywhere
	// (secrets.NAME) to its value. The engine passes it to expr.NewScope and
	// masks the values as *** wherever it writes text.
	Secrets map[string]string `json:"-"`

	webhooks map[string]webhook
}

// WorkflowNames returns the workflow names, sorted.
func (p *Project) WorkflowNames() []string {
	names := make([]string, 0, len(p.Workflows))
	for name := range p.Workflows {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Webhook returns the workflow and trigger serving a webhook path (leading
// and trailing slashes are ignored).
func (p *Project) Webhook(path string) (*Workflow, *Trigger, bool) {
	h, ok := p.webhooks[strings.Trim(path, "/")]
	return h.workflow, h.trigger, ok
}

// EventTriggers returns the workflows with an event trigger for event from
// provider instance, with the matching trigger, sorted by workflow name.
func (p *Project) EventTriggers(instance, event string) []EventTrigger {
	var out []EventTrigger
	for _, name := range p.WorkflowNames() {
		w := p.Workflows[name]
		for _, t := range w.Triggers {
			if t.Type == TriggerEvent && t.Provider == instance && t.Event == event {
				out = append(out, EventTrigger{Workflow: w, Trigger: t})
			}
		}
	}
	return out
}

// EventTrigger is a workflow's trigger that an event starts.
type EventTrigger struct {
	Workflow *Workflow
	Trigger  *Trigger
}

// webhook is an entry of the project's webhook index.
type webhook struct {
	workflow *Workflow
	trigger  *Trigger
}

// index builds the lookups the accessors use.
func (p *Project) index() {
	p.webhooks = map[string]webhook{}
	for _, w := range p.Workflows {
		for _, t := range w.Triggers {
			if t.Type == TriggerWebhook {
				p.webhooks[t.Path] = webhook{workflow: w, trigger: t}
			}
		}
	}
}

// MaskValues returns every value that must never appear in logs, run
// history, API responses, errors or dry-run output: the resolved secrets
// and the values of config fields that a provider's schema marks sensitive.
// Longer values come first, so a masker replacing them in order never leaves
// part of one behind. Empty values are left out.
func (p *Project) MaskValues() []string {
	var out []string
	add := func(v string) {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range p.Secrets {
		add(v)
	}
	for _, prov := range p.Providers {
		for _, v := range prov.SensitiveValues {
			add(v)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return out
}

// Provider is a provider instance: a plugin type with one configuration.
type Provider struct {
	// Name is the instance name that steps use as <name>.<action>.
	Name string `json:"name"`
	// Type is the plugin type (herald-provider-<type>); it defaults to Name.
	Type string `json:"type"`
	// Config is the instance configuration with its secrets resolved. It
	// holds plain values: string, bool, int64, float64, nil, []any and
	// map[string]any.
	Config map[string]any `json:"config"`
	// RateLimit, when set, caps calls to this instance: the provider
	// block's rate_limit, or else the limit the plugin declares.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// RecipientLimits are the per-recipient limits by action name: the
	// block's recipient_rate_limit or the plugin's declared rate, keyed as
	// the plugin declares.
	RecipientLimits map[string]*RecipientLimit `json:"recipient_rate_limits,omitempty"`
	// Spec is the plugin's description, when LoadOptions.Spec provided one.
	Spec *sdk.Spec `json:"-"`
	// SensitiveFields are the top-level config keys the spec marks
	// sensitive, and SensitiveValues their values as strings.
	SensitiveFields []string `json:"-"`
	SensitiveValues []string `json:"-"`
	Range           Range    `json:"-"`
}

// RateLimit is a token bucket: Burst calls at once, refilled at Rate calls
// per second. "20/s" is Rate 20, Burst 20; "100/m" is Rate 100/60, Burst 100.
type RateLimit struct {
	// Text is the limit as written, such as "20/s".
	Text string `json:"text"`
	// Count calls are allowed per Per.
	Count int           `json:"count"`
	Per   time.Duration `json:"per"`
	// Rate is the refill rate in calls per second, and Burst the bucket size.
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
	// Source is LimitDeclared or LimitConfigured.
	Source string `json:"source,omitempty"`
}

// Workflow is one named workflow.
type Workflow struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Vars are the workflow's variables. They may use templates reading
	// trigger, secrets, run and now; the engine renders them once per run and
	// passes the result to Scope.SetVars. Nil when the workflow has none.
	Vars *expr.Value `json:"vars,omitempty"`
	// VarNames are the declared variable names, sorted.
	VarNames []string `json:"-"`
	// Triggers start the workflow. Every workflow can also be run manually.
	Triggers []*Trigger `json:"triggers"`
	// When gates every run; nil is always true.
	When        *expr.Condition `json:"when,omitempty"`
	Concurrency Concurrency     `json:"concurrency"`
	Steps       []*Step         `json:"steps"`
	Range       Range           `json:"-"`
}

// Step returns the step with the given id.
func (w *Workflow) Step(id string) (*Step, bool) {
	for _, s := range w.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return nil, false
}

// TriggerType is the kind of a trigger.
type TriggerType string

// The trigger types a workflow can declare. Manual runs need no trigger.
const (
	TriggerCron    TriggerType = "cron"
	TriggerWebhook TriggerType = "webhook"
	TriggerEvent   TriggerType = "event"
)

// DefaultTimestampTolerance is how far a webhook's X-Herald-Timestamp may be
// from the host's clock unless the trigger's timestamp_tolerance says
// otherwise.
const DefaultTimestampTolerance = 5 * time.Minute

// Respond says when a webhook trigger answers its request.
type Respond string

// The respond modes of a webhook trigger; RespondAccepted is the default.
const (
	// RespondAccepted answers 202 with the run id as soon as the run is
	// admitted, before it executes.
	RespondAccepted Respond = "accepted"
	// RespondOutput answers 200 with the run object once the run has
	// finished, or 202 with the run id when RespondTimeout passes first.
	RespondOutput Respond = "output"
)

// DefaultRespondTimeout is how long a webhook trigger with respond =
// "output" waits for its run unless respond_timeout says otherwise.
const DefaultRespondTimeout = 10 * time.Second

// MaxRespondTimeout bounds respond_timeout, and the wait of
// POST /api/v1/workflows/{name}/runs?wait=, so that a request cannot hold a
// connection and a waiter for long.
const MaxRespondTimeout = time.Minute

// Catchup says what happens to cron fires missed while no host was running.
type Catchup string

// The catch-up policies; CatchupSkip is the default.
const (
	// CatchupSkip drops missed fires.
	CatchupSkip Catchup = "skip"
	// CatchupLatest runs the most recent missed fire once.
	CatchupLatest Catchup = "latest"
	// CatchupAll runs every missed fire.
	CatchupAll Catchup = "all"
)

// Trigger starts a workflow. Only the fields of its Type are set.
type Trigger struct {
	Type TriggerType `json:"type"`

	// Schedule is the cron expression: 5 fields, 6 with seconds first, or a
	// descriptor such as @daily or @every 1m.
	Schedule string `json:"schedule,omitempty"`
	// Timezone is the IANA zone of the schedule, "UTC" by default, and
	// Location the loaded zone.
	Timezone string         `json:"timezone,omitempty"`
	Location *time.Location `json:"-"`
	// Cron is the parsed schedule; call Cron.Next with a time in Location.
	Cron    cron.Schedule `json:"-"`
	Catchup Catchup       `json:"catchup,omitempty"`

	// Path is the webhook path, served at POST /hooks/<Path>; it has no
	// leading or trailing slash.
	Path string `json:"path,omitempty"`
	// Secret is the webhook's HMAC secret with secrets resolved; empty when
	// requests are not signed.
	Secret string `json:"-"`
	// Sensitive lists the webhook's headers, query parameters and body
	// fields masked before a run is stored, as written; MaskRequest
	// applies them.
	Sensitive []string `json:"sensitive,omitempty"`
	sensitive []sensitiveField

	// RequireTimestamp refuses signed requests without X-Herald-Timestamp,
	// whose signature covers the timestamp, so a captured request cannot be
	// replayed after TimestampTolerance.
	RequireTimestamp bool `json:"require_timestamp,omitempty"`
	// TimestampTolerance is how far X-Herald-Timestamp may be from the
	// host's clock, before or after; DefaultTimestampTolerance unless set.
	// Zero when the webhook has no secret.
	TimestampTolerance time.Duration `json:"-"`

	// Respond says when the webhook answers: RespondAccepted (the default)
	// or RespondOutput. RespondTimeout is how long RespondOutput waits for
	// the run; DefaultRespondTimeout unless set, zero for RespondAccepted.
	Respond        Respond       `json:"respond,omitempty"`
	RespondTimeout time.Duration `json:"-"`

	// Event is the provider event type, such as chatwoot.message_created,
	// and Provider the instance whose webhooks emit it.
	Event    string `json:"event,omitempty"`
	Provider string `json:"provider,omitempty"`

	Range Range `json:"-"`
}

// OnLimit says what a trigger does when a workflow is at its concurrency
// limit.
type OnLimit string

// The on_limit policies; OnLimitQueue is the default.
const (
	OnLimitQueue OnLimit = "queue"
	OnLimitSkip  OnLimit = "skip"
)

// Concurrency bounds the runs of a workflow in flight at once.
type Concurrency struct {
	// Limit is the most runs at once; 0, the default, is unlimited.
	Limit int `json:"limit"`
	// OnLimit queues (the default) or skips a run started at the limit.
	OnLimit OnLimit `json:"on_limit"`
}

// Step is one call of a provider action.
type Step struct {
	ID string `json:"id"`
	// Uses is <provider instance>.<action>, split into Provider and Action.
	Uses     string `json:"uses"`
	Provider string `json:"-"`
	Action   string `json:"-"`
	// If skips the step when false; nil is always true. It is evaluated once,
	// before for_each, so item and index are not in its scope.
	If *expr.Condition `json:"if,omitempty"`
	// With is the action input; it renders to a map.
	With     *expr.Value `json:"with,omitempty"`
	Override Override    `json:"override"`
	Retry    Retry       `json:"retry"`
	// Timeout bounds each attempt; DefaultTimeout unless set.
	Timeout time.Duration `json:"timeout"`
	// ForEach, when set, runs the step once per element of the list it
	// renders to, with item and index in scope of With and Override.
	ForEach *expr.Value `json:"for_each,omitempty"`
	// Parallelism is how many elements run at once; DefaultParallelism
	// unless set, and only allowed with ForEach.
	Parallelism int `json:"parallelism"`
	// ContinueOnError lets the run go on when the step finally fails.
	ContinueOnError bool `json:"continue_on_error"`
	// OnInDoubt says what happens to an attempt whose outcome is unknown
	// (SPEC §9); empty is the default: reconcile when the action has a
	// reconcile handler, else stop. See Step.InDoubtPolicy.
	OnInDoubt OnInDoubt `json:"on_in_doubt,omitempty"`
	// OnInDoubtRange is where on_in_doubt is written, for diagnostics.
	OnInDoubtRange Range `json:"-"`
	// Fallback are tried in order when the step finally fails; each makes
	// one attempt bounded by Timeout, and may read steps.<this step> for the
	// failure.
	Fallback []*Fallback `json:"fallback,omitempty"`
	// Window, when set, holds the step's sends (each for_each item's) to
	// a send window (see window.go).
	Window *Window `json:"window,omitempty"`
	// Wait and WaitFor make the step a wait step (see wait.go): it calls
	// no action, so Uses is empty. At most one is set.
	Wait    *Wait    `json:"wait,omitempty"`
	WaitFor *WaitFor `json:"wait_for,omitempty"`
	Range   Range    `json:"-"`
}

// OnInDoubt is a step's policy for an in-doubt send: a request that may have
// reached the provider without the host learning the outcome.
type OnInDoubt string

// The on_in_doubt policies.
const (
	// OnInDoubtReconcile asks the action's reconcile handler whether the
	// send happened: found settles the attempt with the provider's output,
	// not found sends again, unknown asks again with backoff, then stops.
	OnInDoubtReconcile OnInDoubt = "reconcile"
	// OnInDoubtRetry sends again, accepting a possible duplicate.
	OnInDoubtRetry OnInDoubt = "retry"
	// OnInDoubtStop parks the run in needs_attention until an operator
	// resolves the attempt as sent or unsent.
	OnInDoubtStop OnInDoubt = "stop"
)

// OnInDoubtPolicies lists the on_in_doubt values.
var OnInDoubtPolicies = []string{string(OnInDoubtReconcile), string(OnInDoubtRetry), string(OnInDoubtStop)}

// InDoubtPolicy returns the step's on_in_doubt for an action that can
// reconcile or not: the value written, or the default (reconcile when it can,
// else stop).
func (s *Step) InDoubtPolicy(canReconcile bool) OnInDoubt {
	switch {
	case s.OnInDoubt == OnInDoubtReconcile && !canReconcile:
		// Validation refuses this where describes are known; a fallback
		// action without a handler stops instead.
		return OnInDoubtStop
	case s.OnInDoubt != "":
		return s.OnInDoubt
	case canReconcile:
		return OnInDoubtReconcile
	}
	return OnInDoubtStop
}

// Override changes one call of a provider: Config is merged over the
// instance configuration, Body deep-merged into the request body the plugin
// builds. Both render to maps; nil when not set.
type Override struct {
	Config *expr.Value `json:"config,omitempty"`
	Body   *expr.Value `json:"body,omitempty"`
}

// Retry is a step's retry policy: exponential backoff with jitter from
// InitialInterval, growing by Multiplier, capped at MaxInterval. Without a
// retry block MaxAttempts is 1, so the step is not retried.
type Retry struct {
	MaxAttempts     int           `json:"max_attempts"`
	InitialInterval time.Duration `json:"initial_interval"`
	MaxInterval     time.Duration `json:"max_interval"`
	Multiplier      float64       `json:"multiplier"`
}

// Fallback is an alternative action tried when a step finally fails.
type Fallback struct {
	Uses     string      `json:"uses"`
	Provider string      `json:"-"`
	Action   string      `json:"-"`
	With     *expr.Value `json:"with,omitempty"`
	Override Override    `json:"override"`
	Range    Range       `json:"-"`
}
