// Package pluginhost is the host side of provider plugins: it finds
// herald-provider-<type> executables, checks them against the project's
// herald.lock.json, launches each at most once per host through go-plugin
// (gRPC only, AutoMTLS, a private socket directory, none of the host's
// environment, a process group of its own and a handshake deadline), routes
// their logs into the host logger as provider.<type>, relaunches a plugin
// that dies (with backoff, re-configuring its instances) and kills every
// plugin on Close. Whenever a plugin is killed or exits, its whole process
// group is killed, so nothing it forked can hold the host up. Providers registered in-process are served
// through the same sdk.Client interface, so the engine cannot tell the two
// apart.
//
// It owns plugin processes and nothing else: it never touches the store,
// never retries an action (a call that fails because its plugin died fails
// as retryable and the engine decides), and knows nothing of workflows.
package pluginhost
