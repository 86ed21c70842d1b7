// Command herald-provider-chatwoot is Herald's Chatwoot provider plugin:
// contacts, conversations and messages in a Chatwoot API channel inbox, and
// Chatwoot webhooks as chatwoot.<event> events. The host launches it; it is
// not meant to be run by hand (except with --debug).
package main

import (
	"github.com/heraldhq/herald/internal/providers/chatwoot"
	"github.com/heraldhq/herald/sdk"
)

func main() { sdk.Serve(chatwoot.New()) }
