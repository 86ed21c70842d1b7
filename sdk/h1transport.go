package sdk

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// h1Transport is the http.RoundTripper NewHTTP's client sends plain
// HTTP/1.1 requests through: it writes a request and reads its answer on
// the caller's goroutine, where net/http's Transport hands each request to
// a writer goroutine and its answer back from a reader goroutine, two
// thread wake-ups a request that cost about a seventh of a plugin's
// instructions per send.
//
// It takes its settings from base, the *http.Transport the client shows,
// at every request, and leaves to base (net/http) whatever it does not do
// itself: requests through a proxy, TLS servers that refuse HTTP/1.1,
// bodies of unknown length, Expect and Upgrade, and transports configured
// beyond what it reads (custom TLS dialers, MaxConnsPerHost, no
// keep-alives, a ResponseHeaderTimeout that could fire before the
// request's deadline). Over TLS it offers only http/1.1 in ALPN, where
// net/http would offer h2 too: a provider that speaks both gets HTTP/1.1
// over a pool of kept-alive connections.
//
// A kept-alive connection is checked before it is reused: a connection the
// server closed (or wrote to) while it sat idle is dropped, as net/http's
// background reader would have noticed, so that a POST is not written to a
// dead connection and left in doubt. A request that failed on a reused
// connection before anything was written, or a GET the server dropped
// without answering, is sent again on a new connection, as net/http does;
// a written request that changes something never is.
type h1Transport struct {
	// client and base are the client NewHTTP made and its transport: the
	// HTTP uses this transport only while its Client is still client
	// with transport base.
	client *http.Client
	base   *http.Transport
	// fallback sends what h1Transport does not; base unless a test
	// watches it.
	fallback http.RoundTripper
	// target is the last URL sent to, checked (see h1PrepareWith).
	target atomic.Pointer[h1Target]

	mu    sync.Mutex
	idle  map[h1Key][]*h1Conn // oldest first
	nidle int
	// refused holds the TLS servers that refused an HTTP/1.1 handshake.
	refused  map[h1Key]bool
	sweeping bool
	sweeper  *time.Timer
}

// h1Key is a pool of connections: an address and, for TLS, the
// configuration its connections were made with.
type h1Key struct {
	addr  string
	https bool
	tls   *tls.Config
}

// errH1Refused reports a TLS server that refused HTTP/1.1 in ALPN.
var errH1Refused = errors.New("server refused http/1.1")

func newH1Transport(client *http.Client, base *http.Transport) *h1Transport {
	return &h1Transport{client: client, base: base, fallback: base}
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.send(req, nil)
}

// send is RoundTrip telling sent, when not nil, once the request has been
// written in full, as the hook of sent's context would be told: the
// request's context need not carry it (a request given to net/http is
// given that context).
func (t *h1Transport) send(req *http.Request, sent *sendTrace) (*http.Response, error) {
	b := t.base
	if !h1Supported || b.DialTLSContext != nil || b.DialTLS != nil || b.Dial != nil || b.DisableKeepAlives ||
		b.MaxConnsPerHost > 0 || (b.Protocols != nil && !b.Protocols.HTTP1()) {
		return t.sendFallback(req, sent)
	}
	r, ok := h1PrepareWith(req, !b.DisableCompression, &t.target)
	if !ok {
		return t.sendFallback(req, sent)
	}
	if b.Proxy != nil {
		if proxy, err := b.Proxy(req); err != nil || proxy != nil {
			return t.sendFallback(req, sent)
		}
	}
	ctx := req.Context()
	if rht := b.ResponseHeaderTimeout; rht > 0 {
		if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > rht {
			return t.sendFallback(req, sent)
		}
	}
	key := h1Key{addr: r.addr, https: r.https}
	if r.https {
		key.tls = b.TLSClientConfig
	}
	trace := httptrace.ContextClientTrace(ctx)
	for {
		c, err := t.conn(ctx, key, req)
		if err == errH1Refused {
			return t.sendFallback(req, sent)
		}
		if err != nil {
			closeBody(req)
			return nil, err
		}
		if trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{Conn: c.conn, Reused: c.reused, WasIdle: c.reused})
		}
		resp, retry, err := c.roundTrip(ctx, req, &r, trace, sent)
		if !retry {
			return resp, err
		}
		if r.length > 0 {
			// A replayable request with a body goes again with a fresh
			// copy of it, as net/http's rewind does.
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			again := *req
			again.Body = body
			req = &again
		}
	}
}

// sendFallback gives req to the fallback transport, with sent's hook in
// its context.
func (t *h1Transport) sendFallback(req *http.Request, sent *sendTrace) (*http.Response, error) {
	if sent != nil {
		req = req.WithContext(sent.context(req.Context()))
	}
	return t.fallback.RoundTrip(req)
}

// CloseIdleConnections closes the kept-alive connections of both
// transports; http.Client.CloseIdleConnections calls it.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	var all []*h1Conn
	for _, list := range t.idle {
		all = append(all, list...)
	}
	t.idle, t.nidle = nil, 0
	t.mu.Unlock()
	for _, c := range all {
		c.close()
	}
	t.base.CloseIdleConnections()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// conn returns a live kept-alive connection to key, or a new one.
func (t *h1Transport) conn(ctx context.Context, key h1Key, req *http.Request) (*h1Conn, error) {
	for {
		c, refused := t.takeIdle(key)
		if refused {
			return nil, errH1Refused
		}
		if c == nil {
			return t.dial(ctx, key, req)
		}
		if c.alive() {
			return c, nil
		}
		c.close()
	}
}

// takeIdle pops the most recently used idle connection to key, or reports
// that key's server refused HTTP/1.1.
func (t *h1Transport) takeIdle(key h1Key) (c *h1Conn, refused bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refused[key] {
		return nil, true
	}
	list := t.idle[key]
	if len(list) == 0 {
		return nil, false
	}
	c = list[len(list)-1]
	list[len(list)-1] = nil
	if len(list) == 1 {
		delete(t.idle, key)
	} else {
		t.idle[key] = list[:len(list)-1]
	}
	t.nidle--
	return c, false
}

// putIdle keeps c for the next request to its key, within the base's
// MaxIdleConnsPerHost and MaxIdleConns, or closes it.
func (t *h1Transport) putIdle(c *h1Conn) {
	perHost := t.base.MaxIdleConnsPerHost
	if perHost == 0 {
		perHost = http.DefaultMaxIdleConnsPerHost
	}
	c.reused = true
	c.idleAt = time.Now()
	t.mu.Lock()
	list := t.idle[c.key]
	if len(list) >= perHost {
		t.mu.Unlock()
		c.close()
		return
	}
	if t.idle == nil {
		t.idle = map[h1Key][]*h1Conn{}
	}
	t.idle[c.key] = append(list, c)
	t.nidle++
	var evicted *h1Conn
	if max := t.base.MaxIdleConns; max > 0 && t.nidle > max {
		evicted = t.evictOldestLocked()
	}
	if timeout := t.base.IdleConnTimeout; timeout > 0 && !t.sweeping {
		t.sweeping = true
		if t.sweeper == nil {
			t.sweeper = time.AfterFunc(timeout, t.sweep)
		} else {
			t.sweeper.Reset(timeout)
		}
	}
	t.mu.Unlock()
	if evicted != nil {
		evicted.close()
	}
}

// evictOldestLocked removes the connection idle the longest from the pool.
func (t *h1Transport) evictOldestLocked() *h1Conn {
	var oldest h1Key
	var found *h1Conn
	for k, list := range t.idle {
		if found == nil || list[0].idleAt.Before(found.idleAt) {
			oldest, found = k, list[0]
		}
	}
	t.removeLocked(oldest, 1)
	return found
}

// removeLocked drops the n oldest connections of key from the pool.
func (t *h1Transport) removeLocked(key h1Key, n int) {
	list := slices.Delete(t.idle[key], 0, n)
	if len(list) == 0 {
		delete(t.idle, key)
	} else {
		t.idle[key] = list
	}
	t.nidle -= n
}

// sweep closes the connections idle for the base's IdleConnTimeout and
// runs again when the next one will be.
func (t *h1Transport) sweep() {
	t.mu.Lock()
	timeout := t.base.IdleConnTimeout
	now := time.Now()
	var expired []*h1Conn
	var next time.Duration
	for k, list := range t.idle {
		n := 0
		for n < len(list) && (timeout <= 0 || now.Sub(list[n].idleAt) >= timeout) {
			n++
		}
		expired = append(expired, list[:n]...)
		if n < len(list) {
			if wait := timeout - now.Sub(list[n].idleAt); next == 0 || wait < next {
				next = wait
			}
		}
		t.removeLocked(k, n)
	}
	if next > 0 {
		t.sweeper.Reset(next)
	} else {
		t.sweeping = false
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.close()
	}
}

// dial connects to key, with a TLS handshake offering http/1.1 for https.
func (t *h1Transport) dial(ctx context.Context, key h1Key, req *http.Request) (*h1Conn, error) {
	dial := t.base.DialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.GetConn != nil {
		trace.GetConn(key.addr)
	}
	raw, err := dial(ctx, "tcp", key.addr)
	if err != nil {
		return nil, err
	}
	c := &h1Conn{t: t, key: key, conn: raw}
	if sc, ok := raw.(syscall.Conn); ok {
		if fd, err := sc.SyscallConn(); err == nil && fd != nil {
			c.fd = newH1Peek(fd)
		}
	}
	if key.https {
		cfg := &tls.Config{}
		if key.tls != nil {
			cfg = key.tls.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = req.URL.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(raw, cfg)
		hctx := ctx
		if d := t.base.TLSHandshakeTimeout; d > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			_ = raw.Close()
			if refusedHTTP1(err) {
				t.mu.Lock()
				if t.refused == nil {
					t.refused = map[h1Key]bool{}
				}
				t.refused[key] = true
				t.mu.Unlock()
				return nil, errH1Refused
			}
			if ctx.Err() == nil && hctx.Err() != nil {
				return nil, errors.New("net/http: TLS handshake timeout")
			}
			return nil, err
		}
		state := tc.ConnectionState()
		c.tlsState = &state
		c.conn = tc
	}
	rsize, wsize := t.base.ReadBufferSize, t.base.WriteBufferSize
	if rsize <= 0 {
		rsize = 4 << 10
	}
	if wsize <= 0 {
		wsize = 4 << 10
	}
	c.br = bufio.NewReaderSize(c, rsize)
	c.bw = bufio.NewWriterSize(c, wsize)
	c.readLimit = math.MaxInt64
	return c, nil
}

// refusedHTTP1 reports a TLS handshake the server ended because it speaks
// none of the protocols offered (alert no_application_protocol).
func refusedHTTP1(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error" && op.Err != nil && op.Err.Error() == "tls: no application protocol"
}

// h1Conn is one kept-alive connection. Only the request holding it uses it.
type h1Conn struct {
	t    *h1Transport
	key  h1Key
	conn net.Conn
	// fd checks the TCP socket when idle; nil when the dialer's
	// connection has none, and the connection is then not kept.
	fd       *h1Peek
	br       *bufio.Reader
	bw       *bufio.Writer
	tlsState *tls.ConnectionState
	reused   bool
	idleAt   time.Time
	// nwrite counts the bytes written, readLimit bounds the response's
	// header, sawEOF remembers the server's end of the stream.
	nwrite    int64
	readLimit int64
	sawEOF    bool
	// interruptFunc is interrupt, made once for every request's
	// context.AfterFunc.
	interruptFunc func()
}

// Read reads from the connection for c.br, within the header limit.
func (c *h1Conn) Read(p []byte) (int, error) {
	if c.readLimit <= 0 {
		return 0, fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", c.maxHeader())
	}
	if int64(len(p)) > c.readLimit {
		p = p[:c.readLimit]
	}
	n, err := c.conn.Read(p)
	if err == io.EOF {
		c.sawEOF = true
	}
	c.readLimit -= int64(n)
	return n, err
}

// Write writes to the connection for c.bw, counting what went out.
func (c *h1Conn) Write(p []byte) (int, error) {
	n, err := c.conn.Write(p)
	c.nwrite += int64(n)
	return n, err
}

func (c *h1Conn) maxHeader() int64 {
	if n := c.t.base.MaxResponseHeaderBytes; n != 0 {
		return n
	}
	return 10 << 20
}

func (c *h1Conn) close() { _ = c.conn.Close() }

// interrupt ends any read or write in progress: the request's context
// ended.
func (c *h1Conn) interrupt() { _ = c.conn.SetDeadline(time.Unix(1, 0)) }

// alive reports whether an idle connection can take a request: the server
// has neither closed it nor written to it since the last answer.
func (c *h1Conn) alive() bool {
	return c.fd != nil && c.br.Buffered() == 0 && !c.sawEOF && c.fd.idleNow()
}

// roundTrip sends req on c and reads the answer's header. retry is set
// when the request may go again on a new connection: c was reused, and
// either nothing was written or a replayable request was dropped without
// any answer.
func (c *h1Conn) roundTrip(ctx context.Context, req *http.Request, r *h1Request, trace *httptrace.ClientTrace, sent *sendTrace) (resp *http.Response, retry bool, err error) {
	var stop func() bool
	if ctx.Done() != nil {
		if c.interruptFunc == nil {
			c.interruptFunc = c.interrupt
		}
		stop = context.AfterFunc(ctx, c.interruptFunc)
	}
	fail := func(err error) (*http.Response, bool, error) {
		if stop != nil {
			stop()
		}
		c.close()
		if ctx.Err() != nil {
			return nil, false, context.Cause(ctx)
		}
		return nil, false, err
	}
	start := c.nwrite
	r.writeHeader(c.bw, req)
	if trace != nil && trace.WroteHeaders != nil {
		trace.WroteHeaders()
	}
	if r.length > 0 {
		n, err := io.CopyN(c.bw, req.Body, r.length)
		if err != nil && err != io.EOF {
			closeBody(req)
			return fail(err)
		}
		if n != r.length {
			closeBody(req)
			return fail(fmt.Errorf("http: ContentLength=%d with Body length %d", r.length, n))
		}
	}
	closeBody(req)
	err = c.bw.Flush()
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	if sent != nil {
		sent.wroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	if err != nil {
		if c.reused && c.nwrite == start && r.length == 0 && ctx.Err() == nil {
			c.close()
			if stop != nil {
				stop()
			}
			return nil, true, nil
		}
		return fail(err)
	}
	if trace != nil && trace.GotFirstResponseByte != nil {
		if peek, err := c.br.Peek(1); err == nil && len(peek) == 1 {
			trace.GotFirstResponseByte()
		}
	}
	// The limit covers the header of every informational (1xx) answer
	// too, unless the trace takes them, as net/http's does.
	c.readLimit = c.maxHeader()
	for {
		resp, err = readH1Response(c.br, req)
		if err != nil {
			if c.reused && c.readLimit == c.maxHeader() && replayable(req) && ctx.Err() == nil {
				// The server dropped a kept-alive connection as the
				// request went out; nothing was answered.
				c.close()
				if stop != nil {
					stop()
				}
				return nil, true, nil
			}
			if c.reused && c.readLimit == c.maxHeader() && err == io.EOF {
				err = errors.New("http: server closed idle connection")
			}
			return fail(err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == 101 || resp.StatusCode < 100 {
			break
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err)
			}
			c.readLimit = c.maxHeader()
		}
	}
	c.readLimit = math.MaxInt64
	resp.TLS = c.tlsState
	reuse := !resp.Close && !req.Close && resp.StatusCode >= 200
	if resp.Body == http.NoBody {
		c.release(reuse, stop)
		return resp, false, nil
	}
	body := &h1Body{c: c, rc: resp.Body, ctx: ctx, stop: stop, reuse: reuse}
	resp.Body = body
	if r.gzip && strings.EqualFold(headerValue(resp.Header, "Content-Encoding"), "gzip") {
		resp.Body = &h1Gzip{body: body}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
	}
	return resp, false, nil
}

// release ends c's request: c goes back to the pool when reuse holds and
// the request's context did not interrupt it, else it is closed.
func (c *h1Conn) release(reuse bool, stop func() bool) {
	if stop != nil && !stop() {
		reuse = false // the deadline is set in the past
	}
	if !reuse || c.fd == nil || c.sawEOF || c.br.Buffered() > 0 {
		c.close()
		return
	}
	c.t.putIdle(c)
}

// replayable is net/http's rule for a request it sends again by itself.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// errBodyClosed is net/http's error for a read after Close.
var errBodyClosed = errors.New("http: read on closed response body")

// h1Body is an answer's body: its end gives the connection back.
type h1Body struct {
	c     *h1Conn
	rc    io.ReadCloser
	ctx   context.Context
	stop  func() bool
	reuse bool
	// err is what reads return once the body is done.
	err error
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.err = io.EOF
		b.c.release(b.reuse, b.stop)
	} else if err != nil {
		if b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		}
		b.err = err
		b.c.release(false, b.stop)
	}
	return n, err
}

// Close ends the body; a body not read to its end closes the connection.
func (b *h1Body) Close() error {
	if b.err == nil {
		b.err = errBodyClosed
		b.c.release(false, b.stop)
	} else if b.err != errBodyClosed {
		b.err = errBodyClosed
	}
	return nil
}

// h1Gzip decompresses a body the transport asked gzip for, as net/http's
// Transport does.
type h1Gzip struct {
	body *h1Body
	zr   *gzip.Reader
	err  error
}

func (g *h1Gzip) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.body)
		if err != nil {
			g.err = err
			return 0, err
		}
		g.zr = zr
	}
	n, err := g.zr.Read(p)
	if err != nil {
		g.err = err
	}
	return n, err
}

func (g *h1Gzip) Close() error {
	g.err = errBodyClosed
	return g.body.Close()
}
