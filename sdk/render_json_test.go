package sdk

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Struct shapes of provider outputs, for the differential test: plain ones
// the direct encoder writes, and ones it must leave to json.Marshal.
type (
	sendShape struct {
		Sent    bool   `json:"sent"`
		ID      string `json:"id"`
		Message string `json:"message"`
	}
	statusShape struct {
		AccountStatus string `json:"account_status"`
		QRCode        string `json:"qr_code,omitempty"`
	}
	numberShape struct {
		Count   int     `json:"count,omitempty"`
		Small   int8    `json:"small"`
		Big     uint64  `json:"big,omitempty"`
		Ratio   float64 `json:"ratio,omitempty"`
		Half    float32 `json:"half"`
		Flag    bool    `json:"flag,omitempty"`
		Skipped string  `json:"-"`
		Dash    string  `json:"-,"`
		NoTag   string
		hidden  string
	}
	namedKinds struct {
		State outputState `json:"state"`
		Level outputLevel `json:"level,omitempty"`
	}
	outputState string
	outputLevel int
	listField   struct {
		L     []string      `json:"l"`
		Tags  []string      `json:"tags,omitempty"`
		State []outputState `json:"state,omitempty"`
	}

	// Left to json.Marshal: each has something the direct encoder does
	// not write.
	embeddedShape struct {
		sendShape
		Extra string `json:"extra"`
	}
	stringOption struct {
		N int `json:"n,string"`
	}
	omitZero struct {
		When time.Time `json:"when,omitzero"`
	}
	pointerField struct {
		P *string `json:"p"`
	}
	textListField struct {
		L []loudText `json:"l"`
	}
	intListField struct {
		L []int `json:"l"`
	}

	duplicateNames struct {
		A string `json:"B"`
		B string
	}
	escapedName struct {
		A string `json:"a<b"`
	}
	marshalerField struct {
		S loudText `json:"s"`
	}
	loudText      string
	selfMarshaler struct {
		A string `json:"a"`
	}
)

func (u loudText) MarshalText() ([]byte, error) { return []byte(strings.ToUpper(string(u))), nil }

func (s selfMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"custom" : true}`), nil }

// TestMarshalOutputMatchesJSON holds marshalOutput to json.Marshal, byte for
// byte and error for error, on the shapes providers return, on values that
// need escaping or that json.Marshal refuses, and on random nested values.
func TestMarshalOutputMatchesJSON(t *testing.T) {
	t.Parallel()
	cyclic := map[string]any{"a": 1}
	cyclic["self"] = cyclic
	deep := any("leaf")
	for range maxDirectDepth + 5 {
		deep = map[string]any{"d": deep}
	}
	s := "x"
	values := []any{
		nil, true, false, "", "plain", `quote " backslash \ <tag> & amp`, "tab\tnew\nline\x00\x1f",
		"é ünïcödé 😀", "line\u2028sep\u2029", "bad utf8 \xff\xfe", string([]byte{0xed, 0xa0, 0x80}),
		0, 1, -1, math.MaxInt64, math.MinInt64, uint64(math.MaxUint64), int32(-7), uint32(7), uint(3), int8(4), uint16(5),
		0.0, math.Copysign(0, -1), 1.5, -2.25, 1e20, 1e21, 123456789e15, 1e-6, 9.99e-7, 1e-7, 5e-324, math.MaxFloat64,
		float32(1e-7), float32(3.4e38), float32(0.1), float32(1e21), float32(-1e20),
		math.NaN(), math.Inf(1), math.Inf(-1), float32(math.Inf(1)),
		json.Number("42"), json.Number("-0.5e+10"), json.Number(""), json.Number("01"), json.Number("+1"), json.Number("1e"), json.Number("abc"),
		json.RawMessage(`{"b" : 1, "a":"<"}`), json.RawMessage(`not json`), []byte("bytes"),
		map[string]any{}, map[string]any(nil), map[string]any{"b": 1, "a": 2, "B": 3, "": 4, "é": 5, "a<b": 6, "\xff": 7},
		map[string]string{"z": "1", "y": "<2>"}, map[string]string(nil),
		[]any{}, []any(nil), []any{1, "two", nil, []any{3.5}}, []string{}, []string(nil), []string{"a", "<b>"},
		[]map[string]any{{"a": 1}, nil}, []map[string]any(nil),
		map[string]int{"a": 1}, map[int]string{2: "b", 1: "a"}, []int{1, 2},
		sendShape{Sent: true, ID: "true_14155550123@c.us_3EB0", Message: "Sent to 14155550123@c.us"},
		sendShape{}, &sendShape{ID: "p"},
		statusShape{AccountStatus: "authenticated"}, statusShape{AccountStatus: "got qr code", QRCode: "data:image/png;base64,iVBOR<>"},
		numberShape{}, numberShape{Count: -3, Small: 8, Big: math.MaxUint64, Ratio: math.Copysign(0, -1), Half: 0.1, Flag: true, Skipped: "s", Dash: "d", NoTag: "n", hidden: "h"},
		numberShape{Ratio: 1e-9, Half: float32(1e22)}, numberShape{Ratio: math.NaN()}, numberShape{Half: float32(math.Inf(-1))},
		namedKinds{State: "sent<", Level: 2}, namedKinds{},
		embeddedShape{sendShape: sendShape{ID: "e"}, Extra: "x"}, stringOption{N: 5}, omitZero{}, pointerField{P: &s}, pointerField{},
		listField{L: []string{"a"}}, listField{}, listField{L: []string{}, Tags: []string{}, State: []outputState{}},
		listField{L: []string{"<b>", "\xff", ""}, Tags: []string{"t"}, State: []outputState{"s&"}},
		textListField{L: []loudText{"up"}}, textListField{}, intListField{L: []int{1}}, duplicateNames{A: "a", B: "b"}, escapedName{A: "a"}, marshalerField{S: "up"}, selfMarshaler{A: "a"},
		struct{}{}, struct{ A, B string }{"a", "b"}, struct {
			A string `json:"a,omitempty,string"`
		}{"x"},
		map[string]any{"send": sendShape{ID: "nested"}, "list": []any{statusShape{}, map[string]any{"k": json.Number("1.0")}}},
		map[string]any{"bad": math.Inf(1)}, []any{"ok", json.Number("x")},
		cyclic, deep, time.Unix(0, 0).UTC(), errors.New("an error"), make(chan int), func() {},
	}
	for i, v := range values {
		checkMarshalOutput(t, i, v)
	}
	// The shapes providers return take the direct path (the others above
	// are left to json.Marshal, which the comparison covers either way).
	for i, v := range []any{
		sendShape{ID: "x"}, statusShape{}, numberShape{Ratio: 1e-9}, namedKinds{State: "s"}, struct{}{},
		listField{}, listField{L: []string{"a"}, State: []outputState{"s"}},
		map[string]any{"a": []any{1.5, "b", nil, true, json.Number("2")}, "m": map[string]string{"k": "v"}},
		[]map[string]any{{"send": sendShape{}}}, []string{"a"}, int32(1), uint(2), float32(0.5),
	} {
		if _, ok := appendOutput(nil, v); !ok {
			t.Errorf("plain value %d (%#v) left to json.Marshal", i, v)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		checkMarshalOutput(t, len(values)+i, randomOutput(r, 0))
	}
}

func checkMarshalOutput(t *testing.T, i int, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, gotErr := marshalOutput(v)
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("value %d (%#v): error %v, json.Marshal's %v", i, v, gotErr, wantErr)
	}
	if string(got) != string(want) {
		t.Fatalf("value %d (%#v):\n got %s\nwant %s", i, v, got, want)
	}
}

// randomOutput returns a random value of the shapes a decoded or built
// output holds.
func randomOutput(r *rand.Rand, depth int) any {
	pieces := []string{"a", "Z", "é", "<", ">", "&", `"`, `\`, "\n", "\x01", "\u2028", "\xff", "😀", " ", "0", "-"}
	str := func() string {
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	n := 12
	if depth > 3 {
		n = 8
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return str()
	case 3:
		return math.Float64frombits(r.Uint64())
	case 4:
		return float64(r.Int64N(2000)-1000) * math.Pow(10, float64(r.IntN(50)-25))
	case 5:
		return json.Number([]string{"0", "-1", "1.25", "1e9", "2E-3", "00", "1.", ".5", "-"}[r.IntN(9)])
	case 6:
		return r.Int64() >> r.IntN(64)
	case 7:
		return sendShape{Sent: r.IntN(2) == 0, ID: str(), Message: str()}
	case 8, 9:
		m := map[string]any{}
		for range r.IntN(5) {
			m[str()] = randomOutput(r, depth+1)
		}
		return m
	case 10:
		l := make([]any, r.IntN(4))
		for i := range l {
			l[i] = randomOutput(r, depth+1)
		}
		return l
	default:
		return map[string]string{str(): str(), str(): str()}
	}
}

// BenchmarkMarshalOutput measures the output encoder beside json.Marshal on
// chatapi's send output (a struct) and an echoed input (a map).
func BenchmarkMarshalOutput(b *testing.B) {
	outputs := map[string]any{
		"struct": sendShape{Sent: true, ID: "true_14155550123@c.us_3EB0C767D26A1D8B3A4B", Message: "Sent to 14155550123@c.us"},
		"map": map[string]any{"phone": "14155550123", "body": "Good morning ops, you are on call today. Reply ACK to confirm.",
			"quoted_msg_id": "false_14155550123@c.us_3EB0C767D26A1D8B3A4B", "mentioned_phones": []any{"14155550124"}, "n": json.Number("42")},
	}
	for _, name := range []string{"struct", "map"} {
		v := outputs[name]
		b.Run(name+"/json.Marshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/marshalOutput", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := marshalOutput(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
