package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/heraldhq/herald/internal/expr"
	"github.com/heraldhq/herald/sdk"

	// Cron timezones must load the same on hosts without a zoneinfo database.
	_ "time/tzdata"
)

// LoadOptions connects Load to the rest of the host.
type LoadOptions struct {
	// Spec returns the description of a provider type's plugin. It is called
	// once per type. When Spec is nil, actions, inputs, events and config
	// are not checked against schemas; everything else still is.
	Spec func(providerType string) (*sdk.Spec, error)
	// Secret returns the value of secrets.NAME. When Secret is nil, the
	// environment variable HERALD_SECRET_<NAME> is read.
	Secret func(name string) (string, bool)
	// StandIn, when set, supplies a value for a secret that Secret does not
	// find, for commands that look at a project without needing its
	// secrets' values (herald validate, herald schema): the project loads
	// as if the secret were set to it. A provider config value that reads
	// a stand-in is not known, so it skips the schema's type, pattern and
	// enum checks, as a template does; it still counts as present.
	StandIn func(name string) string
}

// SecretEnvPrefix prefixes the environment variable that holds a secret.
const SecretEnvPrefix = "HERALD_SECRET_"

// EnvSecret reads secrets.NAME from the environment variable
// HERALD_SECRET_NAME. A variable set to the empty string counts as not set:
// an empty credential is a mistake, not a value.
func EnvSecret(name string) (string, bool) {
	v := os.Getenv(SecretEnvPrefix + name)
	return v, v != ""
}

// Source is one project file held in memory.
type Source struct {
	// Name is the path shown in diagnostics; its extension (.hcl, .yaml or
	// .yml) selects the syntax.
	Name string
	Data []byte
}

// IsProjectFile reports whether name is a project file by its extension.
func IsProjectFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".hcl", ".yaml", ".yml":
		return true
	}
	return false
}

// Load reads every *.hcl, *.yaml and *.yml file directly in dir (files
// whose names start with a dot are skipped), merges them into one project
// and validates it. It reports every problem, sorted by file and position;
// the project is nil when any of them is an error.
func Load(dir string, opts LoadOptions) (*Project, Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, Diagnostics{{Severity: Error, File: dir, Summary: fmt.Sprintf("reading project directory: %v", err)}}
	}
	var sources []Source
	var diags Diagnostics
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !IsProjectFile(name) {
			continue
		}
		path := filepath.Join(dir, name)
		if info, err := e.Info(); err == nil && info.Size() > MaxFileSize {
			// Refused before it is read, so it costs no memory.
			diags = append(diags, fileTooLarge(path, info.Size()))
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			diags = append(diags, &Diagnostic{Severity: Error, File: path, Summary: fmt.Sprintf("reading file: %v", err)})
			continue
		}
		sources = append(sources, Source{Name: path, Data: data})
	}
	if len(sources) == 0 && len(diags) == 0 {
		return nil, Diagnostics{{Severity: Error, File: dir, Summary: "no *.hcl, *.yaml or *.yml files in the project directory"}}
	}
	p, more := LoadSources(sources, opts)
	diags = append(diags, more...)
	diags.sort()
	if p != nil {
		p.Dir = dir
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
}

// LoadSources merges and validates project files held in memory, in the
// order given, as Load does for a directory.
func LoadSources(sources []Source, opts LoadOptions) (*Project, Diagnostics) {
	if opts.Secret == nil {
		opts.Secret = EnvSecret
	}
	comp, err := expr.NewCompiler()
	if err != nil {
		return nil, Diagnostics{{Severity: Error, Summary: err.Error()}}
	}
	l := &loader{
		opts:    opts,
		comp:    comp,
		specs:   map[string]specResult{},
		secrets: map[string]secretResult{},
		project: &Project{
			Providers: map[string]*Provider{},
			Workflows: map[string]*Workflow{},
			Secrets:   map[string]string{},
		},
		webhookOwners: map[string]webhookUse{},
	}
	for _, src := range sources {
		l.project.Files = append(l.project.Files, src.Name)
		for _, root := range l.read(src) {
			l.declare(root)
		}
	}
	for _, d := range l.providerDecls {
		l.provider(d)
	}
	l.checkRequiredPlugins()
	for _, d := range l.workflowDecls {
		l.workflow(d)
	}
	diags := l.finish()
	if diags.HasErrors() {
		return nil, diags
	}
	l.project.index()
	return l.project, diags
}

// loader holds the state of one load.
type loader struct {
	opts    LoadOptions
	rep     reporter
	comp    *expr.Compiler
	project *Project

	providerDecls []decl
	workflowDecls []decl
	specs         map[string]specResult
	secrets       map[string]secretResult
	// webhookOwners maps each webhook path to the workflow serving it.
	webhookOwners map[string]webhookUse
}

// decl is a provider or workflow found in a file, decoded after every file
// has been read.
type decl struct {
	name string
	at   Range
	n    *node
}

type specResult struct {
	spec *sdk.Spec
	err  error
}

type secretResult struct {
	value string
	ok    bool
	// standIn is set when value came from LoadOptions.StandIn.
	standIn bool
}

// read parses one file into node trees.
func (l *loader) read(src Source) []*node {
	if !checkLimits(src, &l.rep) {
		return nil
	}
	switch strings.ToLower(filepath.Ext(src.Name)) {
	case ".hcl":
		if n := readHCL(src.Name, src.Data, &l.rep); n != nil {
			return []*node{n}
		}
		return nil
	case ".yaml", ".yml":
		return readYAML(src.Name, src.Data, &l.rep)
	}
	l.rep.errorf(Range{File: src.Name}, "unsupported file type %q: project files are .hcl, .yaml or .yml", filepath.Ext(src.Name))
	return nil
}

// declare records the providers and workflows of one file, rejecting names
// already declared in this or an earlier file.
func (l *loader) declare(root *node) {
	o := newObject(&l.rep, root, "a project file", "providers", "workflows", "required_plugins")
	if o == nil {
		return
	}
	defer o.done()
	if e := o.get("providers"); e != nil {
		l.names(e.val, "provider", "providers", instanceName, "a letter followed by letters, digits, _ or -", &l.providerDecls)
	}
	if e := o.get("required_plugins"); e != nil {
		l.requiredPlugins(e.val)
	}
	if e := o.get("workflows"); e != nil {
		l.names(e.val, "workflow", "workflows", workflowName, "letters, digits, _, . or -, starting with a letter or digit", &l.workflowDecls)
	}
}

func (l *loader) names(n *node, kind, key string, valid interface{ MatchString(string) bool }, rule string, into *[]decl) {
	if n.kind != objectNode {
		l.rep.errorf(n.rng, "%s must map names to %s declarations, not %s", key, kind, n.kindName())
		return
	}
	for _, e := range n.entries {
		if !valid.MatchString(e.key) {
			l.rep.errorf(e.keyRng, "invalid %s name %q: use %s", kind, e.key, rule)
			continue
		}
		if i := slices.IndexFunc(*into, func(d decl) bool { return d.name == e.key }); i >= 0 {
			l.rep.errorf(e.keyRng, "%s %q is already declared at %s", kind, e.key, (*into)[i].at)
			continue
		}
		*into = append(*into, decl{name: e.key, at: e.keyRng, n: e.val})
	}
}

// spec returns the plugin description of a provider type, asking
// opts.Spec once per type.
func (l *loader) spec(typ string) specResult {
	if r, ok := l.specs[typ]; ok {
		return r
	}
	var r specResult
	if l.opts.Spec != nil {
		r.spec, r.err = l.opts.Spec(typ)
		if r.spec == nil && r.err == nil {
			r.err = fmt.Errorf("no plugin describes provider type %q", typ)
		}
	}
	l.specs[typ] = r
	return r
}

// secret resolves secrets.NAME, reporting a missing one at the place that
// reads it.
func (l *loader) secret(name string, at Range) (string, bool) {
	r, ok := l.secrets[name]
	if !ok {
		r.value, r.ok = l.opts.Secret(name)
		if !r.ok && l.opts.StandIn != nil {
			r.value, r.ok, r.standIn = l.opts.StandIn(name), true, true
		}
		l.secrets[name] = r
		if r.ok {
			l.project.Secrets[name] = r.value
		}
	}
	if !r.ok {
		l.rep.errorf(at, "secret %s is not set: set the environment variable %s%s or add it to the secrets file", name, SecretEnvPrefix, name)
	}
	return r.value, r.ok
}

// resolveSecrets resolves every secret a compiled value or condition reads.
func (l *loader) resolveSecrets(names []string, at Range) bool {
	ok := true
	for _, name := range names {
		if _, found := l.secret(name, at); !found {
			ok = false
		}
	}
	return ok
}

// finish sorts the diagnostics and masks secret values in their text.
func (l *loader) finish() Diagnostics {
	diags := l.rep.diags
	masker := sdk.NewMasker(l.project.MaskValues()...)
	for _, d := range diags {
		d.Summary = masker.String(d.Summary)
		d.Detail = masker.String(d.Detail)
	}
	diags.sort()
	return diags.dedupe()
}

// exprErrors reports compile errors of a value at the position of the
// string each names.
func (l *loader) exprErrors(errs expr.Errors, n *node, label string) {
	for _, e := range errs {
		// An error inside a value tree points at the offending string rather
		// than at its key.
		at := valueAt(n, e.Path)
		path := label
		if e.Path != "" {
			path = label + "." + e.Path
		}
		msg := e.Message
		if e.Source != "" {
			msg = fmt.Sprintf("%q: %s", e.Source, e.Message)
		}
		l.rep.errorf(at, "%s: %s", path, msg)
	}
}

// valueAt returns the position of the value at path, or of its nearest
// existing ancestor.
func valueAt(n *node, path string) Range {
	cur := n
	for _, seg := range splitPath(path) {
		switch {
		case seg.index >= 0 && cur.kind == listNode && seg.index < len(cur.items):
			cur = cur.items[seg.index]
		case seg.index < 0 && cur.kind == objectNode && cur.entry(seg.key) != nil:
			cur = cur.entry(seg.key).val
		default:
			return cur.rng
		}
	}
	return cur.rng
}
