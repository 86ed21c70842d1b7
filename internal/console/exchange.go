package console

import (
	"bytes"
	"encoding/json"

	"github.com/heraldhq/herald/internal/engine"
)

// exchangeView is an attempt's request and response as the run page shows
// them: the recorded JSON ({"method","url","body"} and {"status","body"},
// already masked) taken apart, bodies indented.
type exchangeView struct {
	Method, URL, RequestBody string
	Status                   int
	ResponseBody             string
}

func exchange(req, resp json.RawMessage) exchangeView {
	var x exchangeView
	var rq struct {
		Method string          `json:"method"`
		URL    string          `json:"url"`
		Body   json.RawMessage `json:"body"`
	}
	if len(req) > 0 && json.Unmarshal(req, &rq) == nil {
		x.Method, x.URL, x.RequestBody = rq.Method, rq.URL, bodyText(rq.Body)
	}
	var rs struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	}
	if len(resp) > 0 && json.Unmarshal(resp, &rs) == nil {
		x.Status, x.ResponseBody = rs.Status, bodyText(rs.Body)
	}
	return x
}

// bodyText shows a recorded body: a JSON string as its text (indented when
// it holds JSON), any other JSON value indented.
func bodyText(b json.RawMessage) string {
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		var buf bytes.Buffer
		if json.Indent(&buf, []byte(s), "", "  ") == nil {
			return buf.String()
		}
		return s
	}
	return prettyJSON(b)
}

// prevProvider is the provider of the attempt before the i-th, so the
// page can mark a fallback hop.
func prevProvider(h []engine.AttemptView, i int) string {
	if i <= 0 || i > len(h) {
		return ""
	}
	return h[i-1].Provider
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
