package sdk_test

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/heraldhq/herald/sdk"
)

// benchSecrets are what a project of three providers typically holds: API
// tokens, one of them with characters that encode differently.
var benchSecrets = []string{
	"tok-chatapi-8f2c1e9a7b",
	"ccl_live_0a1b2c3d4e5f6a7b8c9d",
	`cw"tok\en<&>/+= é`,
	"hook-secret-41e2a9",
}

// baselineMasker is the masker before every encoding was masked: raw,
// query- and path-escaped and HTML-escaping JSON forms only. It is the
// baseline the benchmarks measure beside the masker in the same run.
func baselineMasker(secrets ...string) *strings.Replacer {
	var pairs []string
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= sdk.MinMaskLength && !seen[s] {
			seen[s] = true
			pairs = append(pairs, s)
		}
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		if b, err := json.Marshal(s); err == nil {
			add(string(b[1 : len(b)-1]))
		}
	}
	sort.Slice(pairs, func(i, j int) bool { return len(pairs[i]) > len(pairs[j]) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p, sdk.Masked)
	}
	return strings.NewReplacer(args...)
}

// BenchmarkMaskerString measures the hot path, the masker (all) beside the
// baseline of fewer forms (baseline): a log line with no secret in it, a
// line with one, and an 8 KB JSON step output.
func BenchmarkMaskerString(b *testing.B) {
	m := sdk.NewMasker(benchSecrets...)
	base := baselineMasker(benchSecrets...)
	line := `2026-12-06T21:00:00.000Z [INFO]  engine: step succeeded: run=01M7ZQJEKSW5DV61MED987EC35 step=notify attempt=1 provider=chatapi duration=182ms`
	hit := line + ` token=tok-chatapi-8f2c1e9a7b`
	output := `{"sent":true,"id":"false_14155550123@c.us_3EB0C767D097B7C7C030","message":"Sent to 14155550123@c.us"},`
	big := "[" + strings.Repeat(output, 8192/len(output)) + "{}]"
	for _, c := range []struct{ name, s string }{{"line", line}, {"line-hit", hit}, {"json-8k", big}} {
		b.Run(c.name+"/baseline", func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			b.ReportAllocs()
			for b.Loop() {
				_ = base.Replace(c.s)
			}
		})
		b.Run(c.name+"/all", func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			b.ReportAllocs()
			for b.Loop() {
				_ = m.String(c.s)
			}
		})
	}
}

// BenchmarkNewMasker measures building a masker, done once per project load
// and once per set of sensitive values in a plugin.
func BenchmarkNewMasker(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = baselineMasker(benchSecrets...)
		}
	})
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = sdk.NewMasker(benchSecrets...)
		}
	})
}
