package sdk

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// maxBodyRetryAfter caps a wait read from a response body: a provider's
// typo (milliseconds given as seconds) must not park a run for a year.
const maxBodyRetryAfter = 24 * time.Hour

// bodyRetryAfter returns the wait h.RetryAfter reads from an error
// response, zero without the hook or when it finds none.
func (h *HTTP) bodyRetryAfter(status int, body []byte) time.Duration {
	if h.RetryAfter == nil {
		return 0
	}
	wait := h.RetryAfter(status, body)
	if wait <= 0 {
		return 0
	}
	return min(wait, maxBodyRetryAfter)
}

// RetryAfterSeconds returns an HTTP.RetryAfter hook reading a number of
// seconds at path in a JSON error body, such as
//
//	h.RetryAfter = sdk.RetryAfterSeconds("parameters", "retry_after")
//
// for Telegram's {"ok":false,"error_code":429,"parameters":{"retry_after":5}}.
// A number given as a string ("5") is read too; anything else is no wait.
func RetryAfterSeconds(path ...string) func(status int, body []byte) time.Duration {
	return func(_ int, body []byte) time.Duration {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return 0
		}
		for _, key := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return 0
			}
			v = m[key]
		}
		var secs float64
		switch n := v.(type) {
		case json.Number:
			f, err := n.Float64()
			if err != nil {
				return 0
			}
			secs = f
		case string:
			f, err := strconv.ParseFloat(n, 64)
			if err != nil {
				return 0
			}
			secs = f
		default:
			return 0
		}
		if secs <= 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0
		}
		if secs >= maxBodyRetryAfter.Seconds() {
			return maxBodyRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
}
