package sdk

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrorClass tells the host whether and when a failed call may be retried.
type ErrorClass string

// The classes every provider error falls into.
const (
	// ClassRetryable errors are transient: 5xx, timeouts, connection errors.
	ClassRetryable ErrorClass = "retryable"
	// ClassPermanent errors fail the same way every time: 4xx, invalid input,
	// a 2xx whose body reports failure. They are never retried.
	ClassPermanent ErrorClass = "permanent"
	// ClassRateLimited errors are retried no earlier than RetryAfter.
	ClassRateLimited ErrorClass = "rate_limited"
	// ClassInDoubt errors leave the call's outcome unknown: the request may
	// have reached the provider (a timeout or connection loss after it was
	// fully written). The host does not blindly resend it: it reconciles,
	// stops for an operator or retries, as the step's on_in_doubt says.
	ClassInDoubt ErrorClass = "in_doubt"
)

// Error is a classified provider error. It survives the gRPC transport with
// its class, message, field, retry-after and status code.
type Error struct {
	Class   ErrorClass
	Message string
	// Field is the input field the error concerns, such as "to.mobile".
	Field string
	// RetryAfter is the least wait before a retry of a rate-limited call.
	RetryAfter time.Duration
	// StatusCode is the provider's HTTP status code, when there was one.
	StatusCode int
	err        error
}

func (e *Error) Error() string {
	if e.Field == "" || strings.Contains(e.Message, e.Field+":") {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Unwrap returns the error the Error was made from, if any.
func (e *Error) Unwrap() error { return e.err }

// Retryable marks err as transient: the host retries it with backoff.
func Retryable(err error) *Error { return classify(ClassRetryable, err) }

// Permanent marks err as final: the host does not retry it.
func Permanent(err error) *Error { return classify(ClassPermanent, err) }

// RateLimited marks err as a rate-limit refusal: the host waits at least
// retryAfter before the next attempt.
func RateLimited(retryAfter time.Duration, err error) *Error {
	e := classify(ClassRateLimited, err)
	e.RetryAfter = retryAfter
	return e
}

// InDoubt marks err as a call whose outcome is unknown: the request may have
// reached the provider. Like Retryable it accepts a nil err, and it keeps the
// message, field and status code of an *Error it is given.
func InDoubt(err error) *Error { return classify(ClassInDoubt, err) }

// InvalidInput is a permanent error about one input field.
func InvalidInput(field, format string, args ...any) *Error {
	return &Error{Class: ClassPermanent, Field: field, Message: fmt.Sprintf(format, args...)}
}

func classify(class ErrorClass, err error) *Error {
	if err == nil {
		err = errors.New(string(class) + " error")
	}
	var prev *Error
	if errors.As(err, &prev) {
		e := *prev
		e.Class = class
		e.err = err
		if err != error(prev) {
			// Keep the context err wraps prev in ("create contact: ..."),
			// without repeating prev's field prefix.
			e.Message = strings.Replace(err.Error(), prev.Error(), prev.Message, 1)
		}
		return &e
	}
	return &Error{Class: class, Message: err.Error(), err: err}
}

// AsError returns err as a classified *Error. An error no provider classified
// is retryable: the host cannot know that trying again is pointless, and
// idempotency keys make a repeat safe where the provider supports them.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if err == error(e) {
			return e
		}
		// err wraps a classified error with context ("create contact:
		// ..."): keep the class and the context.
		c := *e
		c.Message = strings.Replace(err.Error(), e.Error(), e.Message, 1)
		c.err = err
		return &c
	}
	return Retryable(err)
}

// UnverifiedError reports a webhook request that failed verification: a bad
// signature, a stale timestamp, a wrong token. The host answers 401.
type UnverifiedError struct{ Reason string }

func (e *UnverifiedError) Error() string { return "webhook verification failed: " + e.Reason }

// Unverified returns an UnverifiedError.
func Unverified(format string, args ...any) error {
	return &UnverifiedError{Reason: fmt.Sprintf(format, args...)}
}

// ErrUnknownAction is wrapped by the error an Invoke of an undeclared action
// returns.
var ErrUnknownAction = errors.New("unknown action")

// ErrUnknownInstance is wrapped by the error a call on an instance that was
// never configured returns.
var ErrUnknownInstance = errors.New("unknown instance")

// ErrNoWebhooks is wrapped by the error HandleWebhook returns for a provider
// that does not handle webhooks.
var ErrNoWebhooks = errors.New("provider does not handle webhooks")
