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
	if json.Unmarshal(body, &v) != nil || !reports(v.Error) {
		return nil
	}
	return reported(resp, body)
}

// decodeAnswer reads body, all or part of a 2xx answer, into v like decode,
// and returns the error the answer reports like reportedError, first. v's
// error member, set by the same decoding, is *errMember: an answer that
// decodes is read once.
func decodeAnswer(resp *sdk.Response, body []byte, v any, errMember *any) error {
	if err := decode(resp, body, v); err != nil {
		if rerr := reportedError(resp, body); rerr != nil {
			return rerr
		}
		return err
	}
	if reports(*errMember) {
		return reported(resp, body)
	}
	return nil
}

// reports says whether an answer's error member reports an error.
func reports(member any) bool {
	return member != nil && member != "" && member != false
}

// reported is the permanent error of an answer whose error member reports
// one.
func reported(resp *sdk.Response, body []byte) error {
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
