package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// pages holds one template set per page, each the layout plus the page,
// parsed when the page is first rendered: a herald serve whose console
// nobody opens keeps none of them (the eight sets, each a clone of the
// layout's parse trees, held 0.7 MB of live heap when they were parsed up
// front).
type pages struct {
	mu sync.Mutex
	// base is the layout and its shared parts, parsed with the first page
	// and then only cloned, never executed.
	base *template.Template
	sets map[string]*template.Template
}

// page names match templates/<name>.html.
var pageNames = []string{"workflows", "workflow", "runs", "run", "schedule", "plugins", "login", "error"}

// get returns page name's template set, parsing it on first use.
func (p *pages) get(name string) (*template.Template, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.sets[name]; ok {
		return t, nil
	}
	if !slices.Contains(pageNames, name) {
		return nil, fmt.Errorf("console template %s: no such page", name)
	}
	if p.base == nil {
		base, err := template.New("base").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/stepdetail.html")
		if err != nil {
			return nil, fmt.Errorf("console templates: %w", err)
		}
		p.base = base
	}
	b, err := fs.ReadFile(templateFS, "templates/"+name+".html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	clone, err := p.base.Clone()
	if err != nil {
		return nil, fmt.Errorf("console template %s: %w", name, err)
	}
	t, err := clone.Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("console template %s: %w", name, err)
	}
	if p.sets == nil {
		p.sets = map[string]*template.Template{}
	}
	p.sets[name] = t
	return t, nil
}

// frame is what every page's layout reads; Page is the page's own data.
type frame struct {
	Title    string
	Nav      string
	Prefix   string
	CSRF     string
	ReadOnly bool
	// Login says whether the console asks for a token (so it shows Log out).
	Login bool
	// Live, when set, names what the page's live script refreshes: "runs",
	// "run" or "workflow".
	Live  string
	RunID string
	// URL is the page's own address, which the live script refreshes from
	// and shows in the address bar: a page answering a POST (an action's
	// error) names the page it shows, not the action.
	URL  string
	Now  time.Time
	Page any
}

// render writes page name with data under the layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, name, title string, data any) {
	f := frame{Title: title, Nav: name, Prefix: c.opts.Prefix, ReadOnly: c.opts.ReadOnly, Login: c.opts.Token != "", Now: c.now().UTC(), Page: data}
	if s := sessionOf(r); s != nil {
		f.CSRF = s.csrf
	}
	if lv, ok := data.(interface{ live() (string, string) }); ok {
		f.Live, f.RunID = lv.live()
	}
	f.URL = r.URL.RequestURI()
	if cu, ok := data.(interface{ canonical(prefix string) string }); ok {
		f.URL = cu.canonical(c.opts.Prefix)
	}
	t, err := c.pages.get(name)
	if err != nil {
		c.log.Error("parse console page", "page", name, "error", err.Error())
		http.Error(w, "internal error rendering the page; see the host log", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", f); err != nil {
		c.log.Error("render console page", "page", name, "error", c.mask(err.Error()))
		http.Error(w, "internal error rendering the page; see the host log", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// errorData fills the error page.
type errorData struct {
	Code    int
	Heading string
	Message string
}

// renderError answers with the error page.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, code int, heading, msg string) {
	c.render(w, r, code, "error", heading, errorData{Code: code, Heading: heading, Message: c.mask(msg)})
}

// funcs are the helpers the templates call.
var funcs = template.FuncMap{
	"statusLabel":  statusLabel,
	"statusIcon":   statusIcon,
	"time":         fmtTime,
	"timeIn":       fmtTimeIn,
	"dur":          fmtDuration,
	"ms":           func(ms int64) string { return fmtDuration(time.Duration(ms) * time.Millisecond) },
	"ago":          ago,
	"pretty":       prettyJSON,
	"join":         path.Join,
	"q":            url.QueryEscape,
	"p":            url.PathEscape,
	"short":        shortText,
	"add":          func(a, b int) int { return a + b },
	"exchange":     exchange,
	"prevProvider": prevProvider,
	"deref":        deref,
	"rows":         func(prefix string, rows []runRow) runTable { return runTable{Prefix: prefix, Rows: rows} },
	"pct": func(a, b int) int {
		if b <= 0 {
			return 0
		}
		return a * 100 / b
	},
}

// runTable is what the runtable template reads.
type runTable struct {
	Prefix string
	Rows   []runRow
}

// statusLabel is the word a status shows with, so colour is never the only
// cue.
func statusLabel(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.ReplaceAll(s, "_", " ")
}

// statusIcon is a text glyph per status, beside its label.
func statusIcon(s string) string {
	switch s {
	case "succeeded", "reconciled":
		return "✓"
	case "failed", "permanent":
		return "✗"
	case "running":
		return "▶"
	case "queued":
		return "…"
	case "skipped":
		return "↷"
	case "waiting":
		return "⏸"
	case "needs_attention", "in_doubt":
		return "!"
	case "canceled":
		return "⊘"
	case "interrupted":
		return "⚡"
	case "retryable", "rate_limited":
		return "↻"
	}
	return "•"
}

const timeLayout = "2006-01-02 15:04:05 MST"

// fmtTime writes t in UTC; the zero time or nil is an em dash.
func fmtTime(v any) string {
	t, ok := asTime(v)
	if !ok {
		return "—"
	}
	return t.UTC().Format(timeLayout)
}

// fmtTimeIn writes t in its own location with the UTC offset.
func fmtTimeIn(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format("Mon 2006-01-02 15:04:05 -07:00 MST")
}

func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil || t.IsZero() {
			return time.Time{}, false
		}
		return *t, true
	}
	return time.Time{}, false
}

// fmtDuration writes d for a person: 840ms, 3.2s, 4m05s, 2h10m.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "—"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// ago writes how long before now t was.
func ago(now time.Time, v any) string {
	t, ok := asTime(v)
	if !ok {
		return ""
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + fmtDuration(-d.Round(time.Second))
	}
	if d < time.Second {
		return "just now"
	}
	return fmtDuration(d.Round(time.Second)) + " ago"
}

// prettyJSON indents a JSON value; what is not JSON is shown as it is.
func prettyJSON(v any) string {
	var raw []byte
	switch b := v.(type) {
	case json.RawMessage:
		raw = b
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(out)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// shortText cuts s to n runes with an ellipsis.
func shortText(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
