package sdk

import (
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// pattern is a field's compiled Pattern. A pattern that is one character
// class repeated over the whole string (`^[0-9]{7,15}$`, `^[A-Za-z0-9_-]+$`:
// phone numbers, ids) is matched by run, a loop over the string, where
// regexp would run its one-pass machine a rune at a time; any other by re.
type pattern struct {
	re  *regexp.Regexp
	run *charRun
}

// MatchString reports whether s matches the pattern, as re.MatchString.
func (p *pattern) MatchString(s string) bool {
	if p.run != nil {
		return p.run.match(s)
	}
	return p.re.MatchString(s)
}

// charRun matches a whole string of min to max (no bound when negative)
// runes of a character class.
type charRun struct {
	// ascii holds the class's ASCII bytes as a bit set.
	ascii [2]uint64
	// ranges are the class's rune ranges, pairs of bounds, for runes
	// outside ASCII (an invalid UTF-8 byte is utf8.RuneError, as regexp
	// reads it).
	ranges   []rune
	min, max int
}

// runOf returns the charRun of expr when expr, parsed as regexp.Compile
// parses it, is a text-anchored repeat of one character class; nil
// otherwise.
func runOf(expr string) *charRun {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) != 3 ||
		re.Sub[0].Op != syntax.OpBeginText || re.Sub[2].Op != syntax.OpEndText {
		return nil
	}
	rep := re.Sub[1]
	r := &charRun{}
	switch rep.Op {
	case syntax.OpRepeat:
		r.min, r.max = rep.Min, rep.Max
	case syntax.OpPlus:
		r.min, r.max = 1, -1
	case syntax.OpStar:
		r.min, r.max = 0, -1
	default:
		return nil
	}
	if len(rep.Sub) != 1 || rep.Sub[0].Op != syntax.OpCharClass {
		return nil
	}
	r.ranges = rep.Sub[0].Rune
	for i := 0; i+1 < len(r.ranges); i += 2 {
		for c := r.ranges[i]; c <= r.ranges[i+1] && c < utf8.RuneSelf; c++ {
			r.ascii[c/64] |= 1 << (c % 64)
		}
	}
	return r
}

func (r *charRun) match(s string) bool {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if r.ascii[c/64]&(1<<(c%64)) == 0 {
				return false
			}
			i++
		} else {
			rn, size := utf8.DecodeRuneInString(s[i:])
			if !r.has(rn) {
				return false
			}
			i += size
		}
		n++
	}
	return n >= r.min && (r.max < 0 || n <= r.max)
}

// has reports whether the class holds rune c.
func (r *charRun) has(c rune) bool {
	for i := 0; i+1 < len(r.ranges); i += 2 {
		if r.ranges[i] <= c && c <= r.ranges[i+1] {
			return true
		}
	}
	return false
}
