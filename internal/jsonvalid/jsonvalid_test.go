package jsonvalid

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// texts are valid and invalid texts at every branch of the grammar.
var texts = []string{
	``, ` `, `0`, `-0`, `-`, `01`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-1.25e-10`,
	`00`, `-01`, `1.2.3`, `+1`, `Infinity`, `NaN`, `1 2`, ` 1 `, "\t\n\r1\r\n\t", "\v1", "\u00a01",
	`true`, `false`, `null`, `tru`, `nul`, `True`, `nulll`, `truex`,
	`""`, `"a"`, `"\""`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\u0041"`, `"\u00e9\uD83D\uDE00"`, `"\uZZZZ"`,
	`"\u12"`, `"\x"`, `"\'"`, `"unterminated`, `"\`, "\"tab\tin\"", "\"nl\nin\"", "\"\x00\"", "\"\x1f\"",
	"\"\x7f\"", "\"\xff\xfe\"", "\"caf\xc3\xa9\"", "\"\xc3\"",
	`{}`, `{ }`, `[]`, `[ ]`, `{"a":1}`, `{"a" : 1 , "b" : [1, 2, {"c": null}]}`, `{"a":1,}`, `{,}`,
	`{"a"}`, `{"a":}`, `{a:1}`, `{"a":1 "b":2}`, `{1:2}`, `[1,]`, `[,1]`, `[1 2]`, `[`, `]`, `{`, `}`,
	`[[[]]]`, `[[[]]`, `{"a":{"b":{"c":[true,false,null,"x",-1.5e3]}}}`, `{"a":1}}`, `[1]]`, `{} {}`,
	`{"":""}`, `["\u0000"]`,
	`{"kind":"webhook","headers":{"Content-Type":["application/json"]},"body":{"vip":true,"to":"+15551234567","text":"hello"}}`,
}

// TestValidIsEncodingJSONsAnswer holds Valid to json.Valid on every text
// above and on random edits of them.
func TestValidIsEncodingJSONsAnswer(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", s, got, want)
		}
	}
	for _, s := range texts {
		check(s)
	}
	alphabet := []byte("{}[],:\" \\/-+.0123456789eEtrufalsn\t\n\x00\x1f\xff")
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := []byte(texts[r.IntN(len(texts))])
		for range 1 + r.IntN(3) {
			switch op := r.IntN(3); {
			case op == 0 && len(b) > 0: // delete a byte
				i := r.IntN(len(b))
				b = append(b[:i], b[i+1:]...)
			case op == 1: // insert a byte
				i := r.IntN(len(b) + 1)
				b = append(b[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[i:]...)...)
			case len(b) > 0: // replace a byte
				b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
			}
		}
		check(string(b))
	}
}

// TestValidDepth holds Valid to encoding/json's nesting limit: 10,000
// levels are valid, one more is not.
func TestValidDepth(t *testing.T) {
	for _, n := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, pair := range [][2]string{{"[", "]"}, {`{"a":`, "}"}} {
			s := strings.Repeat(pair[0], n) + "1" + strings.Repeat(pair[1], n)
			if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
				t.Fatalf("%d levels of %s: Valid = %v, json.Valid = %v", n, pair[0], got, want)
			}
		}
	}
	if !Valid([]byte(strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth))) {
		t.Fatalf("%d levels of arrays are valid", maxDepth)
	}
}

// FuzzValid holds Valid to json.Valid on any input.
func FuzzValid(f *testing.F) {
	for _, s := range texts {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

// BenchmarkValid compares Valid with json.Valid on a webhook trigger.
func BenchmarkValid(b *testing.B) {
	text := []byte(`{"kind":"webhook","received_at":"2026-12-07T15:18:04.123456Z","headers":{"Content-Type":["application/json"],"User-Agent":["bench/1"],"X-Request-Id":["4a0c2f6e-3b7e-4d1c-9d0c-0b4f5e6a7c8d"]},"query":{},"body":{"vip":true,"to":"+15551234567","text":"Your order #12345 has shipped and will arrive on Tuesday.","amount":12.5,"tags":["a","b","c"]}}`)
	b.Run("jsonvalid", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if !Valid(text) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if !json.Valid(text) {
				b.Fatal("invalid")
			}
		}
	})
}

// TestValue checks that Value reads exactly one value at its offset,
// whatever follows, and refuses what Valid refuses.
func TestValue(t *testing.T) {
	for _, text := range []string{`{"a":[1,-2.5e3,"\u00e9",true,null]}`, `[]`, `"s"`, `0`, `-1.5E+2`, `false`} {
		data := []byte(`xx` + text + `,"next"}`)
		end, ok := Value(data, 2)
		if !ok || end != 2+len(text) {
			t.Errorf("Value(%s) = %d, %v; want %d, true", data, end, ok, 2+len(text))
		}
	}
	for _, text := range []string{`{"a":}`, `[1,]`, `"\x"`, `-`, `1.`, `tru`, ``, ` 1`} {
		if _, ok := Value([]byte(text), 0); ok {
			t.Errorf("Value(%q) took an invalid value", text)
		}
	}
}
