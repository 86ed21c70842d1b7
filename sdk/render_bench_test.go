package sdk_test

import (
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

// BenchmarkMaskerString measures the hot path: masking a log line or error
// with no secret in it, a line with one, and an 8 KB JSON step output.
func BenchmarkMaskerString(b *testing.B) {
	m := sdk.NewMasker(benchSecrets...)
	line := `2026-12-06T21:00:00.000Z [INFO]  engine: step succeeded: run=01M7ZQJEKSW5DV61MED987EC35 step=notify attempt=1 provider=chatapi duration=182ms`
	hit := line + ` token=tok-chatapi-8f2c1e9a7b`
	output := `{"sent":true,"id":"false_14155550123@c.us_3EB0C767D097B7C7C030","message":"Sent to 14155550123@c.us"},`
	big := "[" + strings.Repeat(output, 8192/len(output)) + "{}]"
	for _, c := range []struct{ name, s string }{{"line", line}, {"line-hit", hit}, {"json-8k", big}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			b.ReportAllocs()
			for b.Loop() {
				_ = m.String(c.s)
			}
		})
	}
}

// BenchmarkNewMasker measures building a masker, done once per project load.
func BenchmarkNewMasker(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = sdk.NewMasker(benchSecrets...)
	}
}
