package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
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
