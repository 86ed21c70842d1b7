//go:build !(linux || darwin || freebsd)

package sdk

import "syscall"

// h1Supported reports whether h1Transport can check an idle connection
// here; where it cannot, every request goes through net/http.
const h1Supported = false

func h1Idle(syscall.RawConn) bool { return false }
