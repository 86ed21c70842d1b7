package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/engine"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/sdk"
)

// ErrUnavailable is wrapped by Runtime errors that mean "not now": the host
// is shutting down, or too many runs are queued. The API answers 503 with a
// Retry-After header, so senders try again.
var ErrUnavailable = errors.New("service unavailable")

// retryAfterSeconds is the Retry-After of a 503 without better advice.
const retryAfterSeconds = 5

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
}

// writeJSON writes v as the JSON response with code.
func (a *api) writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.log.Error("encode response", "error", a.mask(err.Error()))
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "internal error: encoding the response failed"})
	}
	writeEncoded(w, code, b)
}

// writeEncoded writes b, a JSON encoding, as the response with code, as
// writeJSON writes it.
func writeEncoded(w http.ResponseWriter, code int, b []byte) {
	setJSONHeaders(w.Header())
	w.WriteHeader(code)
	// Two writes, not append(b, '\n'): that would copy the body. The
	// server buffers both into one response.
	_, _ = w.Write(b)
	_, _ = w.Write(newline)
}

var newline = []byte{'\n'}

// setJSONHeaders sets the headers of a JSON answer in h. The values are
// slices of one array made once (Set would make one each per answer). Each
// holds one value at full capacity, so an Add appends to a copy, and Set
// and Del replace the slice: the array is only read.
func setJSONHeaders(h http.Header) {
	h["Content-Type"] = jsonHeaderValues[0:1:1]
	h["Cache-Control"] = jsonHeaderValues[1:2:2]
	h["X-Content-Type-Options"] = jsonHeaderValues[2:3:3]
}

// jsonHeaderValues are the values of the headers of every JSON answer:
// Content-Type, Cache-Control and X-Content-Type-Options.
var jsonHeaderValues = [3]string{"application/json; charset=utf-8", "no-store", "nosniff"}

// fail writes an error response with the message format makes, masked.
func (a *api) fail(w http.ResponseWriter, code int, format string, args ...any) {
	a.writeJSON(w, code, errorBody{Error: a.mask(fmt.Sprintf(format, args...))})
}

// failInternal writes a 500 whose body says no more than msg.
func (a *api) failInternal(w http.ResponseWriter, msg string) {
	a.writeJSON(w, http.StatusInternalServerError, errorBody{Error: msg})
}

// runtimeError answers an error the Runtime returned. what says what failed
// ("start run"); on public routes a 500 hides the error's text, which is
// logged instead.
func (a *api) runtimeError(w http.ResponseWriter, r *http.Request, acc access, what string, err error) {
	msg := a.mask(err.Error())
	var perr *sdk.Error
	switch {
	case errors.Is(err, engine.ErrUnknownWorkflow), errors.Is(err, sdk.ErrUnknownInstance), errors.Is(err, sdk.ErrNoWebhooks):
		a.fail(w, http.StatusNotFound, "%s", msg)
	case errors.Is(err, store.ErrInvalid):
		a.fail(w, http.StatusBadRequest, "%s", msg)
	case isStoreUnavailable(err):
		a.storeUnavailable(w, acc, what, err)
	case errors.Is(err, store.ErrNotFound):
		a.fail(w, http.StatusNotFound, "%s", msg)
	case errors.Is(err, engine.ErrRunState):
		a.fail(w, http.StatusConflict, "%s", msg)
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		a.log.Warn(what+" unavailable", "path", r.URL.Path, "error", msg)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		a.fail(w, http.StatusServiceUnavailable, "%s: %s", what, msg)
	case errors.As(err, &perr) && perr.Class == sdk.ClassPermanent:
		// The provider refused the request as it is: resending will not help.
		a.fail(w, http.StatusBadRequest, "%s", msg)
	case errors.As(err, &perr):
		// Retryable or rate limited: the sender should try again.
		secs := retryAfterSeconds
		if perr.RetryAfter > 0 {
			secs = int((perr.RetryAfter + time.Second - 1) / time.Second)
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		a.log.Warn(what+" failed", "path", r.URL.Path, "error", msg)
		a.fail(w, http.StatusServiceUnavailable, "%s: %s", what, msg)
	default:
		a.log.Error(what+" failed", "path", r.URL.Path, "error", msg)
		if acc == public {
			a.failInternal(w, "internal error: "+what+" failed; see the host log")
			return
		}
		a.fail(w, http.StatusInternalServerError, "%s: %s", what, msg)
	}
}
