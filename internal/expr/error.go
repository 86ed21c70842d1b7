package expr

import (
	"strconv"
	"strings"
)

// Error is a problem with one condition or template, found when compiling
// or evaluating it.
type Error struct {
	// Path locates the string inside a value tree, such as "to.mobile" or
	// "params[1]"; it is empty for a condition or a top-level string.
	Path string
	// Source is the condition or template text.
	Source string
	// Message says what is wrong.
	Message string
}

// Error formats the error as path: "source": message.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Source != "" {
		b.WriteString(strconv.Quote(e.Source))
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors is a list of errors from compiling one value tree.
type Errors []*Error

// Error joins the errors with "; ".
func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
