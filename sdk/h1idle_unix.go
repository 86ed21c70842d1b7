//go:build linux || darwin || freebsd

package sdk

import "syscall"

// h1Supported reports whether h1Transport can check an idle connection
// here; where it cannot, every request goes through net/http.
const h1Supported = true

// h1Idle reports whether the socket of an idle connection has nothing to
// read and no end of stream: a peek that does not wait, the check
// net/http's background reader makes by blocking in a read.
func h1Idle(fd syscall.RawConn) bool {
	idle := false
	err := fd.Read(func(s uintptr) bool {
		var b [1]byte
		for {
			_, _, err := syscall.Recvfrom(int(s), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err == syscall.EINTR {
				continue
			}
			idle = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
			return true
		}
	})
	return err == nil && idle
}
