//go:build linux || darwin || freebsd

package sdk

import "syscall"

// h1Supported reports whether h1Transport can check an idle connection
// here; where it cannot, every request goes through net/http.
const h1Supported = true

// h1Peek checks whether the socket of an idle connection has nothing to
// read and no end of stream: a peek that does not wait, the check
// net/http's background reader makes by blocking in a read. It is made once
// per connection, so that a check allocates nothing (a func literal given
// to RawConn.Read, and the result it sets, would escape on every check).
type h1Peek struct {
	fd   syscall.RawConn
	peek func(uintptr) bool
	idle bool
}

func newH1Peek(fd syscall.RawConn) *h1Peek {
	p := &h1Peek{fd: fd}
	p.peek = p.recv
	return p
}

// idleNow reports whether the socket is idle now.
func (p *h1Peek) idleNow() bool {
	p.idle = false
	err := p.fd.Read(p.peek)
	return err == nil && p.idle
}

func (p *h1Peek) recv(s uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(s), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EINTR {
			continue
		}
		p.idle = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	}
}
