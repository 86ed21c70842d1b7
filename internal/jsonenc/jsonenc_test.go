package jsonenc

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// strs are strings that exercise every escaping rule of encoding/json.
var strs = []string{
	"", "plain", "ünïcödé ✓ 日本語 🎉", `quote " backslash \ slash /`,
	"<script>alert('x')</script> & more", "line\nfeed\rreturn\ttab\bback\fform",
	"\x00\x01\x1f\x7f", "sep\u2028and\u2029", "bad \xff utf8 \xc3", "\xe2\x80", "trailing \xf0\x9f\x8e",
	"\ufffd", "key with spaces", strings.Repeat("long ", 40),
}

// nums are float64 values on both sides of encoding/json's cutoffs.
var nums = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 1.5, -2.25, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 1.5e21,
	123456789.123, math.MaxFloat64, math.SmallestNonzeroFloat64, -1e-9, 3e-10, 1e100, 2.5e-300,
}

// numbers are json.Number texts: valid ones, which AppendNumber writes as
// they are, and ones encoding/json refuses.
var numbers = []json.Number{
	"", "0", "-0", "42", "-0.5e+10", "1.25", "2E-3", "123456789012345678901234567890",
	"01", "+1", "1e", "1.", ".5", "-", "abc", "0x10",
}

// floats32 are float32 values on both sides of encoding/json's cutoffs,
// which it compares as float32.
var floats32 = []float32{
	0, 1, -1, 0.1, 1.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 3.4e38, math.SmallestNonzeroFloat32, -1e-9,
}

// shapes returns values of every shape AppendValue encodes.
func shapes() []any {
	var out []any
	out = append(out, nil, true, false, int64(0), int64(-42), int64(math.MaxInt64), int64(math.MinInt64),
		7, -7, uint64(math.MaxUint64), time.Date(2026, 12, 7, 12, 0, 0, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 5*3600+30*60)), time.Time{},
		int32(math.MinInt32), int32(7), uint(3), uint(math.MaxUint), uint32(math.MaxUint32),
		map[string]any(nil), []any(nil), []string(nil), map[string]string(nil), []map[string]any(nil),
		map[string]any{}, []any{}, []string{}, map[string]string{}, []map[string]any{},
		[]map[string]any{{"a": int64(1)}, nil, {"b": []any{"c"}}})
	for _, n := range numbers {
		out = append(out, n, []any{n}, map[string]any{"n": n})
	}
	for _, f := range floats32 {
		out = append(out, f, -f, []any{f})
	}
	for _, s := range strs {
		out = append(out, s, map[string]any{s: s}, map[string]string{s: s, "b": s}, []string{s, s})
	}
	for _, f := range nums {
		out = append(out, f, -f, []any{f, -f})
	}
	nested := map[string]any{
		"b": []any{int64(1), 2.5, "x", nil, true, map[string]any{"z": "<&>", "a": []any{}}},
		"a": map[string]any{"deep": map[string]any{"er": map[string]any{"est": "\u2028"}}},
		"Z": "upper before lower", "_": int64(3), "é": "non-ascii key sorts last", "\xff": "bad key",
		"headers": map[string]string{"x-b": "2", "x-a": "1"},
	}
	out = append(out, nested, []any{nested, nested})
	many := map[string]any{}
	for i := range 40 {
		many[fmt.Sprintf("k%02d", 39-i)] = int64(i)
	}
	return append(out, many)
}

// random returns a random value of depth at most d.
func random(r *rand.Rand, d int) any {
	n := 9
	if d == 0 {
		n = 6
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return strs[r.IntN(len(strs))]
	case 3:
		return int64(r.Uint64())
	case 4:
		return nums[r.IntN(len(nums))] * float64(r.IntN(5)-2)
	case 5:
		switch r.IntN(3) {
		case 0:
			return numbers[r.IntN(len(numbers))]
		case 1:
			return math.Float32frombits(r.Uint32() &^ (0xff << 23)) // finite
		}
		return math.Float64frombits(r.Uint64() &^ (0x7ff << 52)) // finite
	case 6:
		l := make([]any, r.IntN(5))
		for i := range l {
			l[i] = random(r, d-1)
		}
		return l
	case 7:
		m := map[string]string{}
		for range r.IntN(5) {
			m[strs[r.IntN(len(strs))]] = strs[r.IntN(len(strs))]
		}
		return m
	default:
		m := map[string]any{}
		for range r.IntN(20) {
			m[strs[r.IntN(len(strs))]+fmt.Sprint(r.IntN(30))] = random(r, d-1)
		}
		return m
	}
}

// TestMarshalIsEncodingJSON checks Marshal against json.Marshal, byte for
// byte, over every shape and ten thousand random values.
func TestMarshalIsEncodingJSON(t *testing.T) {
	vals := shapes()
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		vals = append(vals, random(r, 4))
	}
	for i, v := range vals {
		want, werr := json.Marshal(v)
		got, ok := AppendValue([]byte("prefix"), v)
		if werr != nil {
			if ok {
				t.Fatalf("value %d (%#v): encoded %s, json.Marshal fails: %v", i, v, got, werr)
			}
			continue
		}
		if !ok {
			t.Fatalf("value %d (%#v): not encoded", i, v)
		}
		if string(got) != "prefix"+string(want) {
			t.Fatalf("value %d (%#v):\n got %s\nwant prefix%s", i, v, got, want)
		}
		if m, err := Marshal(v); err != nil || string(m) != string(want) {
			t.Fatalf("Marshal of value %d: %s, %v; want %s", i, m, err, want)
		}
	}
}

// TestLeftToEncodingJSON checks that what AppendValue does not encode is
// refused, and that Marshal then gives encoding/json's result.
func TestLeftToEncodingJSON(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	for _, v := range []any{
		math.NaN(), math.Inf(1), []any{math.Inf(-1)}, map[string]any{"x": math.NaN()},
		json.Number("012"), []any{json.Number("+1")}, struct{ A int }{1}, float32(math.NaN()),
		[]any{float32(math.Inf(1))}, []map[string]any{{"x": math.NaN()}}, []byte("x"), map[string]int{"a": 1},
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), cyclic,
	} {
		if b, ok := AppendValue(nil, v); ok {
			t.Errorf("%#v encoded as %s", v, b)
		}
		want, werr := json.Marshal(v)
		got, err := Marshal(v)
		if string(got) != string(want) || (err == nil) != (werr == nil) {
			t.Errorf("Marshal(%#v) = %s, %v; want %s, %v", v, got, err, want, werr)
		}
	}
}

// TestValidNumber checks ValidNumber against what json.Marshal accepts in a
// json.Number.
func TestValidNumber(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0", "-0", "1", "-12", "10.5", "0.001", "1e5", "1E+5", "-1.5e-10", "123456789012345678901234567890"} {
		if !ValidNumber(s) || !json.Valid([]byte(s)) {
			t.Errorf("%q: not a valid number", s)
		}
	}
	// json.Marshal writes an empty json.Number as 0; ValidNumber
	// declines it all the same (AppendNumber writes it).
	if ValidNumber("") {
		t.Error(`"" is a valid number`)
	}
	for _, s := range []string{"-", "+1", "01", "1.", ".5", "1e", "1e+", "0x10", "1_000", "Inf", "NaN", "1.5.5", " 1", "1 "} {
		if ValidNumber(s) {
			t.Errorf("%q is a valid number", s)
		}
		if _, err := json.Marshal(json.Number(s)); err == nil {
			t.Errorf("json.Marshal accepts json.Number(%q)", s)
		}
	}
}

// leaf is a struct AppendValueFunc's other encodes in the test below.
type leaf struct{ ID string }

// TestAppendValueFuncEncodesOtherLeaves checks that other takes the values
// AppendValue does not know, at any depth, and that its refusal refuses the
// whole value.
func TestAppendValueFuncEncodesOtherLeaves(t *testing.T) {
	t.Parallel()
	other := func(b []byte, v any) ([]byte, bool) {
		l, ok := v.(leaf)
		if !ok {
			return b, false
		}
		return AppendString(append(b, `{"ID":`...), l.ID), true
	}
	v := map[string]any{"a": []any{leaf{"x<"}, int64(1)}, "b": []map[string]any{{"c": leaf{}}}, "d": leaf{"\xff"}}
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := AppendValueFunc(nil, v, func(b []byte, v any) ([]byte, bool) {
		b, ok := other(b, v)
		return append(b, '}'), ok
	})
	if !ok || string(got) != string(want) {
		t.Fatalf("got %s, %v; want %s", got, ok, want)
	}
	if b, ok := AppendValue(nil, v); ok {
		t.Errorf("AppendValue encoded a struct: %s", b)
	}
	if b, ok := AppendValueFunc(nil, []any{leaf{}, struct{}{}}, other); ok {
		t.Errorf("a value other refused was encoded: %s", b)
	}
}

// FuzzAppendString checks AppendString against json.Marshal.
func FuzzAppendString(f *testing.F) {
	for _, s := range strs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	v := map[string]any{"to": "14155550123", "text": "disk almost full on db-1", "n": int64(3), "tags": []any{"a", "b"}}
	b.Run("jsonenc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = Marshal(v)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(v)
		}
	})
}

// TestAppendValueAllocatesNothing checks that encoding into a buffer with
// room allocates nothing, for every container type.
func TestAppendValueAllocatesNothing(t *testing.T) {
	v := map[string]any{"to": "14155550123", "n": int64(3), "f": 2.5, "ok": true, "none": nil,
		"tags": []any{"a", int64(1)}, "names": []string{"x", "y"}, "headers": map[string]string{"b": "2", "a": "1"},
		"at": time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	buf := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(100, func() {
		if _, ok := AppendValue(buf, v); !ok {
			t.Fatal("not encoded")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}
