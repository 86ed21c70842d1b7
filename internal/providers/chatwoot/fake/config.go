package fake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// ProviderConfig returns a chatwoot instance config that points at a Fake
// with the defaults New gives it, served at baseURL (the URL the fake's root
// is reachable at, such as the sandbox's URL plus "/chatwoot").
func ProviderConfig(baseURL string) map[string]any {
	return map[string]any{
		"base_url":         baseURL,
		"account_id":       DefaultAccountID,
		"inbox_id":         DefaultInboxID,
		"api_access_token": DefaultToken,
		"webhook_secret":   DefaultWebhookSecret,
	}
}

// Sign returns the X-Chatwoot-Signature Chatwoot sends for body at Unix
// time ts: "sha256=" + hex(HMAC-SHA256(secret, ts + "." + body)). Send it
// with X-Chatwoot-Timestamp set to ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
