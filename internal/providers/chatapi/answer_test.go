package chatapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/sdk"
)

// referenceAnswer reads an answer as send did before the direct parser:
// encoding/json, through decodeAnswer.
func referenceAnswer(resp *sdk.Response) (sendAnswer, error) {
	var a sendAnswer
	err := decodeAnswer(resp, resp.Body, &a, &a.Error)
	return a, err
}

// sameAnswer returns why the direct decoding of body differs from
// encoding/json's, or "" when it does not, and whether the direct parser
// read it (instead of handing it to encoding/json).
func sameAnswer(body []byte) (diff string, direct bool) {
	resp := &sdk.Response{StatusCode: 200, Body: body}
	want, wantErr := referenceAnswer(resp)
	var got sendAnswer
	gotErr := got.decode(resp)
	var p answerParser
	direct = p.parse(body, &sendAnswer{})
	show := func(a sendAnswer, err error) string {
		sent := "nil"
		if a.Sent != nil {
			sent = fmt.Sprint(*a.Sent)
		}
		s := fmt.Sprintf("sent=%s id=%q message=%q", sent, a.ID, a.Message)
		if err != nil {
			e := sdk.AsError(err)
			s += fmt.Sprintf(" error=%s/%d %q", e.Class, e.StatusCode, err.Error())
		}
		return s
	}
	if g, w := show(got, gotErr), show(want, wantErr); g != w {
		return fmt.Sprintf("got %s, encoding/json %s", g, w), direct
	}
	return "", direct
}

// TestSendAnswerIsEncodingJSON holds the direct decoding of a send's answer
// to encoding/json's on the spec's fixtures and on answers that differ from
// them in every way the parser looks at.
func TestSendAnswerIsEncodingJSON(t *testing.T) {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	tooDeep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	cases := []struct {
		body   string
		direct bool // read by the direct parser
	}{
		{string(fixture(t, "sendMessage.response.json")), true},
		{string(fixture(t, "error.response.json")), true},
		{`{"sent":true,"message":"Sent to 1@c.us","id":"true_1@c.us_A"}`, true},
		{`{"sent":false,"message":"Not sent"}`, true},
		{`{"sent":false}`, true},
		{`{"message":"no flag"}`, true},
		{`{}`, true},
		{` 	{ "sent" : true , "id" : "x" } `, true},
		{`{"Sent":true,"ID":"a","MESSAGE":"b"}`, true},
		{`{"sent":true,"sent":null}`, true},
		{`{"sent":true,"id":"a","id":"b"}`, true},
		{`{"sent":true,"id":null,"message":null}`, true},
		{`{"sent":true,"error":null}`, true},
		{`{"sent":true,"error":false}`, true},
		{`{"sent":true,"error":""}`, true},
		{`{"sent":true,"error":"quota exceeded"}`, true},
		{`{"sent":true,"error":"a \"quoted\" \u00e9 reason"}`, true},
		{`{"sent":true,"error":0}`, true},
		{`{"sent":true,"error":{"code":7,"text":"x"}}`, true},
		{`{"sent":true,"error":[]}`, true},
		{`{"sent":true,"error":true}`, true},
		{`{"sent":true,"error":"x","error":null}`, true},
		{`{"sent":true,"extra":{"a":[1,-2.5e+3,0.1,"s\n",true,false,null,{}]},"n":-0}`, true},
		{`{"sent":true}trailing garbage`, true},
		{`{"sent":true,"id":"é ünïcode ✓"}`, true},
		{`{"sent":true,"id":"escaped\/slash"}`, false},
		{`{"sent":true,"id":"bad \xff utf-8"}`, false},
		{"{\"sent\":true,\"id\":\"control \x01\"}", false},
		{`{"ſent":true}`, false}, // encoding/json folds the long s to s
		{`{"sent":"true"}`, false},
		{`{"sent":1}`, false},
		{`{"id":7,"sent":true}`, false},
		{`{"sent":true,"error":"x","id":7}`, false},
		{`{"error":"bad","sent":"x"}`, false},
		{`{"sent":true,"x":01}`, false},
		{`{"sent":true,"x":1.}`, false},
		{`{"sent":true,"x":-}`, false},
		{`{"sent":true,"x":1e}`, false},
		{`{"sent":true,"x":+1}`, false},
		{`{"sent":true,"x":"\x"}`, false},
		{`{"sent":true,"x":"\u12g4"}`, false},
		{`{"sent":true,"x":tru}`, false},
		{`{"sent":true,"x":[1,]}`, false},
		{`{"sent":true,"x":{"a":1,}}`, false},
		{`{"sent":true,"x":{1:2}}`, false},
		{`{"sent":true,"x":` + deep + `}`, true},
		{`{"sent":true,"x":` + tooDeep + `}`, false},
		{`{"sent":true,}`, false},
		{`{"sent":true`, false},
		{`{"sent" true}`, false},
		{`{"sent":true "id":"x"}`, false},
		{`[{"sent":true}]`, false},
		{`null`, false},
		{`"sent"`, false},
		{``, false},
		{"\xef\xbb\xbf{\"sent\":true}", false},
		{`not json`, false},
	}
	for _, c := range cases {
		diff, direct := sameAnswer([]byte(c.body))
		if diff != "" {
			t.Errorf("%s: %s", c.body, diff)
		}
		if direct != c.direct {
			t.Errorf("%s: read directly %v, want %v", c.body, direct, c.direct)
		}
	}
}

// FuzzSendAnswer holds the direct decoding of arbitrary answers to
// encoding/json's.
func FuzzSendAnswer(f *testing.F) {
	f.Add(fixture(f, "sendMessage.response.json"))
	f.Add(fixture(f, "error.response.json"))
	f.Add([]byte(`{"Sent":false,"error":{"a":[1,"\u0041",null]},"message":"m","id":null}`))
	f.Add([]byte(`{"sent":true,"x":-1.5E-7,"y":[true,false]} `))
	f.Fuzz(func(t *testing.T, body []byte) {
		if diff, _ := sameAnswer(body); diff != "" {
			t.Fatalf("%q: %s", body, diff)
		}
	})
}
