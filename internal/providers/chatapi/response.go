package chatapi

import (
	"encoding/json"
	"fmt"

	"github.com/heraldhq/herald/sdk"
)

// Chat API reports some failures in 2xx answers; these turn them, and
// answers that are not the documented JSON, into permanent errors that keep
// the HTTP status.

// reportedError returns the permanent error that body, all or part of a 2xx
// answer, reports with the shape {"error": …}, or nil.
func reportedError(resp *sdk.Response, body []byte) error {
	var v struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil || v.Error == nil || v.Error == "" || v.Error == false {
		return nil
	}
	return failure(resp, fmt.Errorf("chat api reported an error: %s", sdk.DefaultErrorMessage(body)))
}

// failure makes err a permanent error of the response's HTTP status.
func failure(resp *sdk.Response, err error) error {
	e := sdk.Permanent(err)
	e.StatusCode = resp.StatusCode
	return e
}

// decode reads body, all or part of resp's body, into v. A body that is not
// the JSON Chat API documents is a permanent error.
func decode(resp *sdk.Response, body []byte, v any) error {
	if err := (&sdk.Response{StatusCode: resp.StatusCode, Body: body}).JSON(v); err != nil {
		return failure(resp, err)
	}
	return nil
}
