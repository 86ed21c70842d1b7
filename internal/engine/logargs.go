package engine

import "time"

// Log lines carry only what applies: no error key on success, no item on a
// step without for_each, no retry_in when no retry follows. Durations are
// logged as time.Duration rounded to the millisecond; the host's logger
// prints them as Go duration strings ("1.5s"), in text and JSON alike.

// errArg returns the error key and msg, or nothing when msg is empty.
func errArg(msg string) []any {
	if msg == "" {
		return nil
	}
	return []any{"error", msg}
}

// itemArg returns the item key, or nothing for a step without for_each.
func itemArg(item int) []any {
	if item < 0 {
		return nil
	}
	return []any{"item", item}
}

// ms rounds d to the millisecond for a log line.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
