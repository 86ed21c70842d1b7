// Package pluginpb holds the generated gRPC code of the Herald provider plugin
// protocol. The code is committed so that building needs no protoc; run
// `go generate ./internal/pluginpb` after editing provider.proto or stream.proto.
//
// Only the sdk package speaks this protocol; the engine sees providers through
// sdk.Client and never imports this package.
package pluginpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative provider.proto stream.proto
