package sdk

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
)

// lastTarget is a target URL as http.NewRequestWithContext parsed it: the
// URL of the request it made, Host already normalised.
type lastTarget struct {
	target string
	url    url.URL
}

// newRequest returns the request http.NewRequestWithContext(ctx, method,
// target, body) makes, with header as its Header and, when changes is set,
// no GetBody (see sendTrace), body being payload's reader (nil for no
// payload).
//
// A provider sends to the same few URLs again and again, so the parsed URL
// of the last target is kept in last: a request to it copies that URL
// instead of parsing the string again, and gets one body that reads
// payload and closes, where NewRequestWithContext made a reader, its
// NopCloser, an empty header and a GetBody func (the request itself is
// made by WithContext, the only way to set its context, from a copy on
// the stack). Anything else (another
// target, a method NewRequestWithContext would have to check, an empty
// payload) goes through NewRequestWithContext, whose URL then becomes the
// last target.
func newRequest(ctx context.Context, last *atomic.Pointer[lastTarget], method, target string, payload []byte, header http.Header, changes bool) (*http.Request, error) {
	if t := last.Load(); t != nil && t.target == target && knownMethod(method) && (payload == nil || len(payload) > 0) {
		u := new(url.URL)
		*u = t.url
		if t.url.User != nil {
			user := *t.url.User
			u.User = &user
		}
		req := http.Request{
			Method:     method,
			URL:        u,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     header,
			Host:       u.Host,
		}
		if payload != nil {
			b := new(payloadBody)
			b.Reset(payload)
			req.Body = b
			req.ContentLength = int64(len(payload))
			if !changes {
				req.GetBody = func() (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader(payload)), nil
				}
			}
		}
		return req.WithContext(ctx), nil
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header = header
	if changes {
		req.GetBody = nil
	}
	t := &lastTarget{target: target, url: *req.URL}
	if req.URL.User != nil {
		user := *req.URL.User
		t.url.User = &user
	}
	last.Store(t)
	return req, nil
}

// knownMethod reports whether method is one of net/http's method constants,
// which NewRequestWithContext takes without a check.
func knownMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// payloadBody is a request body reading a payload: the bytes.Reader and the
// io.NopCloser around it in one allocation.
type payloadBody struct {
	bytes.Reader
}

func (*payloadBody) Close() error { return nil }
