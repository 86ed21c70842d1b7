package config

import (
	"time"

	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/internal/sendwindow"
)

// WindowOutside says what a send that would go out outside its window does.
type WindowOutside string

// The outside policies of a send window.
const (
	// WindowDelay waits durably for the window's next opening.
	WindowDelay WindowOutside = "delay"
	// WindowSkip skips the send (or item) with a reason.
	WindowSkip WindowOutside = "skip"
)

// Window is a step's send window (SPEC §11): its sends (or for_each items)
// go out only on Days within Hours in Timezone.
type Window struct {
	Days  string `json:"days"`
	Hours string `json:"hours"`
	// Timezone is an IANA name, or a template rendered per send (per item
	// for a for_each step), such as "{{ item.tz }}".
	Timezone *expr.Value   `json:"timezone"`
	Outside  WindowOutside `json:"outside"`
	// Parsed is the window Days and Hours describe.
	Parsed sendwindow.Window `json:"-"`
	// Location is the timezone when it is literal, nil when templated.
	Location *time.Location `json:"-"`
}

// window reads the window block of an action step (a wait step refuses
// one with the other call keys, see stepCallKeys).
func (l *loader) window(s *Step, o *object, ctx expr.Context) {
	e := o.get("window")
	if e == nil {
		return
	}
	what := "the window of " + o.what
	wo := newObject(&l.rep, e.val, what, "days", "hours", "timezone", "outside")
	if wo == nil {
		return
	}
	defer wo.done()
	w := &Window{Days: "*", Hours: "00:00-24:00", Outside: WindowDelay}
	days, de, hasDays := wo.str("days")
	hours, he, hasHours := wo.str("hours")
	if de == nil && he == nil {
		l.rep.errorf(e.val.rng, "%s needs days or hours (or both), as in days = %q, hours = %q", what, "MON-FRI", "08:00-21:00")
		return
	}
	ok := (de == nil || hasDays) && (he == nil || hasHours)
	if hasDays {
		w.Days = days
		if _, err := sendwindow.Parse(days, w.Hours); err != nil {
			l.rep.errorf(de.val.rng, "%s: %v", what, err)
			ok = false
		}
	}
	if hasHours {
		w.Hours = hours
		if _, err := sendwindow.Parse("*", hours); err != nil {
			l.rep.errorf(he.val.rng, "%s: %v", what, err)
			ok = false
		}
	}
	outside := string(w.Outside)
	wo.oneOf("outside", []string{string(WindowDelay), string(WindowSkip)}, &outside)
	w.Outside = WindowOutside(outside)
	tz, te, hasTZ := wo.required("timezone")
	if !hasTZ {
		return
	}
	ctx.Where = "the timezone of " + what
	v, errs := l.comp.Value(tz, ctx)
	if errs != nil {
		l.exprErrors(errs, te.val, "timezone")
		return
	}
	if static, isStatic := v.Static(); isStatic {
		name, _ := static.(string)
		loc, err := loadLocation(name)
		if err != nil {
			l.rep.errorf(te.val.rng, "timezone in %s: %v", what, err)
			return
		}
		w.Location = loc
	}
	w.Timezone = v
	if !ok {
		return
	}
	w.Parsed, _ = sendwindow.Parse(w.Days, w.Hours)
	s.Window = w
}
