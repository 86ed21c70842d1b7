// Command herald-provider-chitchatlabs is the Herald provider plugin for
// ChitChatLabs WhatsApp template messages: the host launches it and talks to
// it over gRPC. Build it with
// go build -o bin/herald-provider-chitchatlabs ./plugins/chitchatlabs.
package main

import (
	"github.com/heraldhq/herald/internal/providers/chitchatlabs"
	"github.com/heraldhq/herald/sdk"
)

func main() { sdk.Serve(chitchatlabs.New()) }
