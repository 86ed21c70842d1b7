// Package providers assembles the sandbox `herald sandbox` serves: the fakes
// of the three bundled providers on one handler, each under its own prefix,
// with request recording and fault injection from internal/sandbox.
package providers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/sandbox"

	chatapifake "github.com/heraldhq/herald/internal/providers/chatapi/fake"
	chatwootfake "github.com/heraldhq/herald/internal/providers/chatwoot/fake"
	cclfake "github.com/heraldhq/herald/internal/providers/chitchatlabs/fake"
)

// The path prefixes each fake is served under.
const (
	ChatAPIPrefix      = "/chatapi"
	ChitChatLabsPrefix = "/chitchatlabs"
	ChatwootPrefix     = "/chatwoot"
)

// Sandbox is the sandbox with every bundled provider's fake mounted.
type Sandbox struct {
	*sandbox.Sandbox
	ChatAPI      *chatapifake.Fake
	ChitChatLabs *cclfake.Fake
	Chatwoot     *chatwootfake.Fake
}

// New returns a Sandbox with fresh fakes.
func New() *Sandbox {
	s := &Sandbox{
		Sandbox:      sandbox.New(),
		ChatAPI:      chatapifake.New(),
		ChitChatLabs: cclfake.New(),
		Chatwoot:     chatwootfake.New(),
	}
	// Each fake posts the receipts of what it sends back to Herald when a
	// receipt plan asks it to (POST /_sandbox/receipts).
	s.ChatAPI.OnSent = func(m chatapifake.Message) {
		s.PostReceipts("chatapi", m.ID, func(status string) ([]byte, http.Header) {
			return chatapifake.AckWebhook(m, status)
		})
	}
	s.Chatwoot.OnSent = func(m chatwootfake.SentMessage) {
		s.PostReceipts("chatwoot", strconv.FormatInt(m.ID, 10), func(status string) ([]byte, http.Header) {
			return chatwootfake.MessageUpdatedWebhook(m, status, chatwootfake.DefaultWebhookSecret, time.Now())
		})
	}
	s.Mount("chatapi", ChatAPIPrefix, s.ChatAPI)
	s.Mount("chitchatlabs", ChitChatLabsPrefix, s.ChitChatLabs)
	s.Mount("chatwoot", ChatwootPrefix, s.Chatwoot)
	return s
}

// ProviderConfigs returns, by provider type, the instance config that points
// each bundled provider at a sandbox served at baseURL (such as
// "http://127.0.0.1:8090").
func ProviderConfigs(baseURL string) map[string]map[string]any {
	baseURL = strings.TrimRight(baseURL, "/")
	return map[string]map[string]any{
		"chatapi":      chatapifake.ProviderConfig(baseURL + ChatAPIPrefix),
		"chitchatlabs": cclfake.ProviderConfig(baseURL + ChitChatLabsPrefix),
		"chatwoot":     chatwootfake.ProviderConfig(baseURL + ChatwootPrefix),
	}
}
