//go:build !(linux || darwin || freebsd)

package sdk

import "syscall"

// h1Supported reports whether h1Transport can check an idle connection
// here; where it cannot, every request goes through net/http.
const h1Supported = false

type h1Peek struct{}

func newH1Peek(syscall.RawConn) *h1Peek { return &h1Peek{} }

func (*h1Peek) idleNow() bool { return false }
