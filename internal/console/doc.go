// Package console serves Herald's operator console: server-rendered HTML
// pages (html/template) of the workflows, the runs, one run's timeline, the
// schedule and the plugins, with small embedded static assets and live
// updates over server-sent events.
//
// The console reads runs through the store's query API and acts only
// through the same Backend functions the HTTP API calls (trigger, retry,
// cancel, resolve, signal). It never writes the store itself and never
// reaches into the engine; every run it renders passes through the API's
// masking (httpapi.MaskView) first.
//
// Security: with a token set, a login page asks for it once and keeps an
// HttpOnly, SameSite=Strict session cookie signed with a key derived from
// the token; without one, the console answers loopback clients only. Every
// action is a POST carrying the session's CSRF token, and every response
// carries a strict Content-Security-Policy: no inline script or style.
package console
