package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/expr"
	"github.com/robfig/cron/v3"
)

// workflow decodes one workflow, compiling its expressions and checking its
// triggers and steps.
func (l *loader) workflow(d decl) {
	what := fmt.Sprintf("workflow %q", d.name)
	o := newObject(&l.rep, d.n, what, "description", "vars", "triggers", "when", "concurrency", "steps")
	if o == nil {
		return
	}
	defer o.done()
	w := &Workflow{
		Name:        d.name,
		Triggers:    []*Trigger{},
		Concurrency: Concurrency{OnLimit: OnLimitQueue},
		Steps:       []*Step{},
		Range:       d.at,
	}
	l.project.Workflows[d.name] = w

	w.Description, _, _ = o.str("description")
	if e := o.get("vars"); e != nil {
		l.vars(w, e)
	}
	if e := o.get("triggers"); e != nil {
		if e.val.kind != listNode {
			l.rep.errorf(e.val.rng, "triggers in %s must be a list, not %s", what, e.val.kindName())
		} else {
			for _, n := range e.val.items {
				if t := l.trigger(w, n); t != nil {
					w.Triggers = append(w.Triggers, t)
				}
			}
		}
	}
	if src, e, ok := o.str("when"); ok {
		ctx := expr.Context{Where: fmt.Sprintf("the when of %s", what), Names: expr.Runtime, Vars: w.VarNames}
		w.When = l.condition(src, e, ctx, "when")
	}
	if e := o.get("concurrency"); e != nil {
		l.concurrency(w, e.val, what)
	}
	e := o.get("steps")
	switch {
	case e == nil:
		l.rep.errorf(d.at, "%s has no steps", what)
	case e.val.kind != listNode:
		l.rep.errorf(e.val.rng, "steps in %s must be a list, not %s", what, e.val.kindName())
	case len(e.val.items) == 0:
		l.rep.errorf(e.val.rng, "%s has no steps", what)
	default:
		l.steps(w, e.val)
	}
}

func (l *loader) vars(w *Workflow, e *entry) {
	if e.val.kind != objectNode {
		l.rep.errorf(e.val.rng, "vars in workflow %q must be an object, not %s", w.Name, e.val.kindName())
		return
	}
	src := e.val.plain(&l.rep).(map[string]any)
	for name := range src {
		w.VarNames = append(w.VarNames, name)
	}
	slices.Sort(w.VarNames)
	ctx := expr.Context{Where: fmt.Sprintf("the vars of workflow %q", w.Name), Names: expr.Trigger | expr.Secrets | expr.Run | expr.Now}
	w.Vars = l.value(src, e.val, ctx, "vars")
}

// value compiles a value tree and checks the secrets it reads.
func (l *loader) value(src any, n *node, ctx expr.Context, label string) *expr.Value {
	v, errs := l.comp.Value(src, ctx)
	if errs != nil {
		l.exprErrors(errs, n, label)
		return nil
	}
	for _, ref := range v.SecretRefs() {
		l.secret(ref.Name, valueAt(n, ref.Path))
	}
	return v
}

// condition compiles a condition and checks the secrets it reads.
func (l *loader) condition(src string, e *entry, ctx expr.Context, label string) *expr.Condition {
	c, errs := l.comp.Condition(src, ctx)
	if errs != nil {
		for _, err := range errs {
			l.rep.errorf(e.val.rng, "%s: %q: %s", label, src, err.Message)
		}
		return nil
	}
	l.resolveSecrets(c.Secrets(), e.val.rng)
	return c
}

func (l *loader) concurrency(w *Workflow, n *node, what string) {
	o := newObject(&l.rep, n, "the concurrency of "+what, "limit", "on_limit")
	if o == nil {
		return
	}
	defer o.done()
	o.integer("limit", 1, &w.Concurrency.Limit)
	onLimit := string(w.Concurrency.OnLimit)
	o.oneOf("on_limit", []string{string(OnLimitQueue), string(OnLimitSkip)}, &onLimit)
	w.Concurrency.OnLimit = OnLimit(onLimit)
}

// cronParser accepts 5 fields, 6 with leading seconds, and descriptors such
// as @daily and @every 1m.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a cron schedule as triggers accept it.
func ParseSchedule(s string) (sched cron.Schedule, err error) {
	defer func() {
		if p := recover(); p != nil {
			sched, err = nil, fmt.Errorf("%v", p)
		}
	}()
	upper := strings.ToUpper(strings.TrimSpace(s))
	if strings.HasPrefix(upper, "TZ=") || strings.HasPrefix(upper, "CRON_TZ=") {
		return nil, fmt.Errorf("set the timezone with timezone, not in the schedule")
	}
	if err := checkCronRanges(s); err != nil {
		return nil, err
	}
	return cronParser.Parse(s)
}

// cronField is one field of a cron schedule with the values it allows.
type cronField struct {
	name     string
	min, max int
}

var (
	cronFields5 = []cronField{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 6}}
	cronFields6 = append([]cronField{{"second", 0, 59}}, cronFields5...)
)

// checkCronRanges checks each numeric value of a 5- or 6-field schedule
// against its field's range, so the error names the field (robfig/cron
// says only "end of range (13) above maximum (12)"). Names (JAN, MON),
// descriptors and malformed fields are left to the parser.
func checkCronRanges(s string) error {
	parts := strings.Fields(s)
	var fields []cronField
	switch {
	case len(parts) == 0 || strings.HasPrefix(parts[0], "@"):
		return nil
	case len(parts) == 5:
		fields = cronFields5
	case len(parts) == 6:
		fields = cronFields6
	default:
		return nil
	}
	for i, part := range parts {
		f := fields[i]
		for _, item := range strings.Split(part, ",") {
			rng, _, _ := strings.Cut(item, "/")
			if rng == "*" || rng == "?" {
				continue
			}
			lo, hi, isRange := strings.Cut(rng, "-")
			for _, v := range []string{lo, hi} {
				if v == "" && !isRange {
					continue
				}
				n, err := strconv.Atoi(v)
				if err != nil {
					continue
				}
				switch {
				case n > f.max:
					return fmt.Errorf("%s: %d is above %d", f.name, n, f.max)
				case n < f.min:
					return fmt.Errorf("%s: %d is below %d", f.name, n, f.min)
				}
			}
		}
	}
	return nil
}

func (l *loader) trigger(w *Workflow, n *node) *Trigger {
	if n.kind != objectNode {
		l.rep.errorf(n.rng, "a trigger of workflow %q must be an object, not %s", w.Name, n.kindName())
		return nil
	}
	probe := &object{r: &l.rep, n: n, used: map[string]bool{}}
	typ, e, ok := probe.str("type")
	if e == nil {
		l.rep.errorf(n.rng, "a trigger of workflow %q is missing type (cron, webhook or event)", w.Name)
		return nil
	}
	if !ok {
		return nil
	}
	what := fmt.Sprintf("the %s trigger of workflow %q", typ, w.Name)
	t := &Trigger{Type: TriggerType(typ), Range: n.rng}
	switch t.Type {
	case TriggerCron:
		o := newObject(&l.rep, n, what, "type", "schedule", "timezone", "catchup")
		defer o.done()
		l.cron(t, o)
	case TriggerWebhook:
		o := newObject(&l.rep, n, what, "type", "path", "secret", "sensitive",
			"require_timestamp", "timestamp_tolerance", "respond", "respond_timeout")
		defer o.done()
		l.webhook(w, t, o)
		l.webhookTimestamp(t, o)
		l.webhookRespond(t, o)
	case TriggerEvent:
		o := newObject(&l.rep, n, what, "type", "event", "provider")
		defer o.done()
		l.event(t, o)
	case "manual":
		l.rep.warnf(e.val.rng, "workflow %q: manual triggers need no declaration; every workflow can be run manually", w.Name)
		return nil
	default:
		l.rep.errorf(e.val.rng, "unknown trigger type %q in workflow %q (expected cron, webhook or event)", typ, w.Name)
		return nil
	}
	return t
}

func (l *loader) cron(t *Trigger, o *object) {
	t.Timezone, t.Location, t.Catchup = DefaultTimezone, time.UTC, CatchupSkip
	if s, e, ok := o.required("schedule"); ok {
		sched, err := ParseSchedule(s)
		if err != nil {
			l.rep.errorf(e.val.rng, "invalid schedule %q in %s: %v", s, o.what, err)
		} else {
			t.Schedule, t.Cron = s, sched
		}
	}
	if tz, e, ok := o.str("timezone"); ok {
		loc, err := loadLocation(tz)
		if err != nil {
			l.rep.errorf(e.val.rng, "timezone in %s: %v", o.what, err)
		} else {
			t.Timezone, t.Location = tz, loc
		}
	}
	catchup := string(t.Catchup)
	o.oneOf("catchup", []string{string(CatchupSkip), string(CatchupLatest), string(CatchupAll)}, &catchup)
	t.Catchup = Catchup(catchup)
}

// loadLocation loads an IANA timezone; Local is refused because it would
// make a schedule depend on the host.
func loadLocation(tz string) (*time.Location, error) {
	if tz == "" || tz == "Local" {
		return nil, fmt.Errorf("%q is not an IANA timezone such as Europe/Berlin", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown timezone %q: use an IANA name such as Europe/Berlin", tz)
	}
	return loc, nil
}

// webhookUse records which workflow serves a webhook path.
type webhookUse struct {
	workflow string
	at       Range
}

func (l *loader) webhook(w *Workflow, t *Trigger, o *object) {
	if p, e, ok := o.required("path"); ok {
		path := strings.Trim(p, "/")
		switch first, dup := l.webhookOwners[path]; {
		case !webhookPath.MatchString(path):
			l.rep.errorf(e.val.rng, "invalid webhook path %q in %s: use letters, digits, ., _, ~, - and /", p, o.what)
		case dup:
			l.rep.errorf(e.val.rng, "webhook path %q is already used by workflow %q at %s", path, first.workflow, first.at)
		default:
			t.Path = path
			l.webhookOwners[path] = webhookUse{workflow: w.Name, at: e.val.rng}
		}
	}
	if e := o.get("sensitive"); e != nil {
		l.sensitive(t, e, o.what)
	}
	if s, e, ok := o.str("secret"); ok {
		v := l.value(s, e.val, expr.Context{Where: "a webhook secret", Names: expr.Secrets}, "secret")
		if v == nil {
			return
		}
		if !expr.HasTemplate(s) {
			l.rep.warnf(e.val.rng, "the secret of %s is written in the file; read it from a secret, as \"{{ secrets.NAME }}\"", o.what)
		}
		for _, ref := range v.SecretRefs() {
			if _, ok := l.project.Secrets[ref.Name]; !ok {
				return
			}
		}
		out, err := v.Render(expr.SecretScope(l.project.Secrets))
		switch str, isString := out.(string); {
		case err != nil:
			l.rep.errorf(e.val.rng, "secret of %s: %v", o.what, err)
		case !isString || str == "":
			l.rep.errorf(e.val.rng, "the secret of %s must be a non-empty string", o.what)
		default:
			t.Secret = str
		}
	}
}

// sensitive reads a webhook trigger's sensitive list, reporting each bad
// entry at its own position.
func (l *loader) sensitive(t *Trigger, e *entry, what string) {
	if e.val.kind != listNode {
		l.rep.errorf(e.val.rng, "sensitive in %s must be a list of strings, not %s", what, e.val.kindName())
		return
	}
	for _, item := range e.val.items {
		s, ok := item.scalar.(string)
		if item.kind != scalarNode || !ok {
			l.rep.errorf(item.rng, "sensitive in %s: an entry must be a string, not %s", what, item.kindName())
			continue
		}
		f, err := parseSensitive(s)
		if err != nil {
			l.rep.errorf(item.rng, "sensitive in %s: %v", what, err)
			continue
		}
		t.Sensitive = append(t.Sensitive, s)
		t.sensitive = append(t.sensitive, f)
	}
}

// webhookTimestamp reads the options of timestamped signatures, which need
// a secret.
func (l *loader) webhookTimestamp(t *Trigger, o *object) {
	o.boolean("require_timestamp", &t.RequireTimestamp)
	tolerance := o.duration("timestamp_tolerance", &t.TimestampTolerance)
	if o.get("secret") == nil {
		for _, e := range []*entry{o.get("require_timestamp"), tolerance} {
			if e != nil {
				l.rep.errorf(e.keyRng, "%s in %s needs a secret: timestamps are checked only on signed requests", e.key, o.what)
			}
		}
		t.RequireTimestamp, t.TimestampTolerance = false, 0
		return
	}
	if t.TimestampTolerance == 0 {
		t.TimestampTolerance = DefaultTimestampTolerance
	}
}

// webhookRespond reads when a webhook answers: respond and its
// respond_timeout, which only respond = "output" takes.
func (l *loader) webhookRespond(t *Trigger, o *object) {
	respond := string(RespondAccepted)
	o.oneOf("respond", []string{string(RespondAccepted), string(RespondOutput)}, &respond)
	t.Respond = Respond(respond)
	timeout := o.duration("respond_timeout", &t.RespondTimeout)
	switch {
	case timeout == nil:
	case t.Respond != RespondOutput:
		l.rep.errorf(timeout.keyRng, "respond_timeout in %s needs respond = %q: a webhook that answers when the run is accepted does not wait", o.what, RespondOutput)
	case t.RespondTimeout > MaxRespondTimeout:
		l.rep.errorf(timeout.val.rng, "respond_timeout in %s must be at most %s, not %q", o.what, MaxRespondTimeout, timeout.val.scalar)
	}
	switch {
	case t.Respond != RespondOutput:
		t.RespondTimeout = 0
	case t.RespondTimeout <= 0 || t.RespondTimeout > MaxRespondTimeout:
		t.RespondTimeout = DefaultRespondTimeout
	}
}

func (l *loader) event(t *Trigger, o *object) {
	t.Event, t.Provider = l.providerEvent(o)
}

// providerEvent reads the event and optional provider keys of o (an event
// trigger or a wait_for) and returns the event name and the provider
// instance that emits it; an unknown instance or an event the instance's
// plugin does not describe is an error at the offending attribute.
func (l *loader) providerEvent(o *object) (event, instance string) {
	ev, evEntry, ok := o.required("event")
	if !ok {
		return "", ""
	}
	inst, instEntry, hasInst := o.str("provider")
	if instEntry != nil && !hasInst {
		return ev, ""
	}
	at := evEntry.val.rng
	if instEntry == nil {
		prefix, _, _ := strings.Cut(ev, ".")
		inst = l.defaultEventProvider(prefix)
		if inst == "" {
			l.rep.errorf(o.n.rng, "%s needs provider = <instance>: no single provider instance of type %q emits %s", o.what, prefix, ev)
			return ev, ""
		}
	} else {
		at = instEntry.val.rng
	}
	p, found := l.project.Providers[inst]
	if !found {
		l.rep.errorf(at, "unknown provider instance %q in %s%s", inst, o.what, listing("declared", l.instanceNames()))
		return ev, ""
	}
	if p.Spec == nil {
		return ev, inst
	}
	if _, ok := p.Spec.Event(ev); !ok {
		var events []string
		for _, e := range p.Spec.Events {
			events = append(events, e.Name)
		}
		l.rep.errorf(evEntry.val.rng, "provider %q (type %s) does not emit event %q%s", inst, p.Type, ev, listing("events", events))
	}
	return ev, inst
}

// defaultEventProvider picks the instance an event trigger without provider
// means: the instance named like the event's prefix, else the only instance
// of that type.
func (l *loader) defaultEventProvider(prefix string) string {
	if _, ok := l.project.Providers[prefix]; ok {
		return prefix
	}
	var match []string
	for name, p := range l.project.Providers {
		if p.Type == prefix {
			match = append(match, name)
		}
	}
	if len(match) == 1 {
		return match[0]
	}
	return ""
}

func (l *loader) instanceNames() []string {
	names := make([]string, 0, len(l.project.Providers))
	for name := range l.project.Providers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// listing renders " (what: a, b)", or nothing for an empty list.
func listing(what string, list []string) string {
	if len(list) == 0 {
		return ""
	}
	return " (" + what + ": " + strings.Join(list, ", ") + ")"
}
