// Command herald-provider-chatapi is the Herald provider plugin for Chat API
// (chat-api.com): the host launches it and talks to it over gRPC. Build it
// with go build -o bin/herald-provider-chatapi ./plugins/chatapi.
package main

import (
	"github.com/heraldhq/herald/internal/providers/chatapi"
	"github.com/heraldhq/herald/sdk"
)

func main() { sdk.Serve(chatapi.New()) }
