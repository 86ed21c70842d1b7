package sdk

import "github.com/hashicorp/go-plugin"

// PluginSet returns the go-plugin plugin set that serves srv over gRPC. It is
// the hook for harnesses that run a provider over the real transport without
// a plugin process, such as sdktest.Serve with plugin.TestPluginGRPCConn; a
// plugin process uses Serve instead, and the host uses VersionedPlugins.
func PluginSet(srv *Server) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &grpcPlugin{server: srv, protocol: ProtocolVersion}}
}
