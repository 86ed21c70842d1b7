package sdk

import (
	"regexp"
	"testing"
)

// patternCases are patterns and strings matched both by pattern and by
// regexp; run marks the patterns pattern must match without regexp.
var patternCases = []struct {
	expr string
	run  bool
}{
	{`^[0-9]{7,15}$`, true},
	{`^[A-Za-z0-9_-]+$`, true},
	{`^[a-f]*$`, true},
	{`^[0-9]{3}$`, true},
	{`^[0-9]{2,}$`, true},
	{`^\d{4}$`, true},
	{`^[^0-9]+$`, true},
	{`^[é-ü]+$`, true},
	{`^(?i:[a-c])+$`, true},
	{`^[\x{FFFD}a]+$`, true},
	{`^[0-9]+(-[0-9]+)?@[cg]\.us$`, false},
	{`^https?://`, false},
	{`[0-9]+`, false},
	{`^[0-9]+`, false},
	{`(?m)^[0-9]+$`, false},
	{`^a+$`, false},
	{`^.+$`, false},
}

var patternInputs = []string{
	"", "1", "123", "1234", "14155550123", "141555501234567", "1415555012345678",
	"+14155550123", "1415555 0123", "abc", "ABC", "aBc", "abcdef", "abcdefg", "a_b-c9",
	"é", "éü", "eu", "\xff", "\xff\xfe", "\uFFFD", "a\uFFFDa", "12\n", "\n12", "١٢٣٤٥٦٧",
}

func TestPatternIsRegexp(t *testing.T) {
	for _, c := range patternCases {
		p, err := compilePattern(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if (p.run != nil) != c.run {
			t.Errorf("%s: matched without regexp %v, want %v", c.expr, p.run != nil, c.run)
		}
		re := regexp.MustCompile(c.expr)
		for _, s := range patternInputs {
			if got, want := p.MatchString(s), re.MatchString(s); got != want {
				t.Errorf("%s on %q: %v, regexp %v", c.expr, s, got, want)
			}
		}
	}
}

// FuzzPattern holds pattern's matching to regexp's on any pattern regexp
// compiles and any string.
func FuzzPattern(f *testing.F) {
	for _, c := range patternCases {
		for _, s := range patternInputs[:8] {
			f.Add(c.expr, s)
		}
	}
	f.Fuzz(func(t *testing.T, expr, s string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		p := &pattern{re: re, run: runOf(expr)}
		if got, want := p.MatchString(s), re.MatchString(s); got != want {
			t.Fatalf("%q on %q: %v, regexp %v", expr, s, got, want)
		}
	})
}

func BenchmarkPatternPhone(b *testing.B) {
	p, err := compilePattern(`^[0-9]{7,15}$`)
	if err != nil {
		b.Fatal(err)
	}
	re := regexp.MustCompile(`^[0-9]{7,15}$`)
	b.Run("pattern", func(b *testing.B) {
		for b.Loop() {
			if !p.MatchString("14155550123") {
				b.Fatal("no match")
			}
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			if !re.MatchString("14155550123") {
				b.Fatal("no match")
			}
		}
	})
}
