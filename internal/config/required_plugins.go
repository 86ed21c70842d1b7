package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"
)

// PluginRequirement is one entry of a project's required_plugins: the
// versions of a provider type's plugin the project accepts.
type PluginRequirement struct {
	// Version is the constraint as written, in Terraform's syntax: a
	// comma-separated list of conditions such as ">= 1.2, < 2.0" or "~> 1.4".
	Version string `json:"version"`
	// Range locates the version attribute, for diagnostics.
	Range Range `json:"-"`

	constraints version.Constraints
}

// Allows reports whether the plugin version v satisfies the requirement. A
// version that is not a semantic version never does.
func (r *PluginRequirement) Allows(v string) bool {
	parsed, err := version.NewVersion(v)
	return err == nil && r.constraints.Check(parsed)
}

// ParseVersionConstraint parses a required_plugins version constraint.
func ParseVersionConstraint(s string) (version.Constraints, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("version constraint is empty")
	}
	c, err := version.NewConstraint(s)
	if err != nil {
		return nil, fmt.Errorf("invalid version constraint %q: use conditions such as \">= 1.2, < 2.0\" or \"~> 1.4\"", s)
	}
	return c, nil
}

// requiredPlugins decodes the required_plugins object of one file:
//
//	required_plugins { telegram = { version = ">= 1.2, < 2.0" } }
//
// A type already required by an earlier file is an error.
func (l *loader) requiredPlugins(n *node) {
	if n.kind != objectNode {
		l.rep.errorf(n.rng, "required_plugins must map provider types to requirements, not %s", n.kindName())
		return
	}
	if l.project.RequiredPlugins == nil {
		l.project.RequiredPlugins = map[string]*PluginRequirement{}
	}
	for _, e := range n.entries {
		if !typeName.MatchString(e.key) {
			l.rep.errorf(e.keyRng, "invalid provider type %q in required_plugins: use letters, digits, _ or -", e.key)
			continue
		}
		if prev, dup := l.project.RequiredPlugins[e.key]; dup {
			l.rep.errorf(e.keyRng, "plugin %q is already required at %s", e.key, prev.Range)
			continue
		}
		what := fmt.Sprintf("required plugin %q", e.key)
		o := newObject(&l.rep, e.val, what, "version")
		if o == nil {
			continue
		}
		s, ve, ok := o.required("version")
		o.done()
		if !ok {
			continue
		}
		c, err := ParseVersionConstraint(s)
		if err != nil {
			l.rep.errorf(ve.val.rng, "%s: %v", what, err)
			continue
		}
		l.project.RequiredPlugins[e.key] = &PluginRequirement{Version: s, Range: ve.val.rng, constraints: c}
	}
}

// checkRequiredPlugins asks for the plugin of every required type and
// reports, at the constraint, a plugin that is missing, refused (such as by
// herald.lock.json) or of a version the constraint does not allow. Without
// LoadOptions.Spec nothing is checked.
func (l *loader) checkRequiredPlugins() {
	if l.opts.Spec == nil {
		return
	}
	types := make([]string, 0, len(l.project.RequiredPlugins))
	for typ := range l.project.RequiredPlugins {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		req := l.project.RequiredPlugins[typ]
		r := l.spec(typ)
		switch {
		case r.err != nil:
			l.rep.errorf(req.Range, "required plugin %q: %v", typ, r.err)
		case r.spec.Version == "":
			l.rep.errorf(req.Range, "required plugin %q reports no version; %q requires one", typ, req.Version)
		case !req.Allows(r.spec.Version):
			l.rep.errorf(req.Range, "required plugin %q is version %s, which does not satisfy %q; install a matching version (herald plugins install)", typ, r.spec.Version, req.Version)
		}
	}
}
