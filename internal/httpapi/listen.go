package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Timeouts and limits of NewServer.
const (
	// ReadHeaderTimeout bounds reading a request's headers, against
	// clients that trickle them (Slowloris).
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout = 30 * time.Second
	// WriteTimeout bounds a request from the end of its headers to the end
	// of the response; a trigger waits at most this long for the queue.
	WriteTimeout = 60 * time.Second
	// IdleTimeout closes keep-alive connections left idle.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes caps the request line and headers.
	MaxHeaderBytes = 64 << 10
)

// NewServer returns an http.Server for h on addr with the recommended
// timeouts and header limit.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// MinTokenLen is the fewest characters an API token may have.
const MinTokenLen = 16

// CheckToken reports an API token too weak to guard the API: one shorter
// than MinTokenLen characters, all whitespace, or with whitespace around it
// (a request could never present it: the bearer token is read trimmed). The
// empty token means "no token" and passes. name is the setting the token
// comes from, such as "HERALD_API_TOKEN", for the error, which never
// quotes the token.
func CheckToken(name, token string) error {
	const advice = "use at least %d random characters, such as the output of `openssl rand -hex 32`"
	switch n := utf8.RuneCountInString(token); {
	case token == "":
		return nil
	case strings.TrimSpace(token) == "":
		return fmt.Errorf("%s is blank (%s of whitespace): "+advice, name, characters(n), MinTokenLen)
	case strings.TrimSpace(token) != token:
		return fmt.Errorf("%s starts or ends with whitespace, which no request can send: remove it", name)
	case n < MinTokenLen:
		return fmt.Errorf("%s is too short (%s): "+advice, name, characters(n), MinTokenLen)
	}
	return nil
}

// characters spells a count of characters.
func characters(n int) string {
	if n == 1 {
		return "1 character"
	}
	return fmt.Sprintf("%d characters", n)
}

// ListenCheck reports whether serve may listen on addr (host:port): without
// an API token only a loopback address is allowed (127.0.0.0/8, ::1 or
// localhost), since anyone who can reach the API could start runs and read
// their history. A malformed address is an error too.
func ListenCheck(addr, token string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid listen address %q: %w", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("invalid listen address %q: bad port %q", addr, port)
	}
	if token != "" || isLoopback(host) {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return fmt.Errorf("refusing to listen on %s (%s) without an API token: set HERALD_API_TOKEN, or listen on a loopback address such as 127.0.0.1:%s", addr, shown, port)
}

// isLoopback reports whether host names only the local machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
