package fake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/internal/sandbox"
)

// maxBody bounds a request body; data URIs make sendFile bodies large.
const maxBody = 32 << 20

func (f *Fake) sendMessage(w http.ResponseWriter, r *http.Request, in *instance) {
	body, ok := decodeObject(w, r)
	if !ok {
		return
	}
	chatID, problem := recipient(body)
	if problem == "" {
		problem = requireString(body, "body")
	}
	if problem == "" {
		problem = optionalString(body, "quotedMsgId")
	}
	if problem == "" {
		problem = phoneList(body, "mentionedPhones")
	}
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	f.deliver(w, in, "sendMessage", chatID, body)
}

func (f *Fake) sendFile(w http.ResponseWriter, r *http.Request, in *instance) {
	body, ok := decodeObject(w, r)
	if !ok {
		return
	}
	chatID, problem := recipient(body)
	if problem == "" {
		problem = requireString(body, "body")
	}
	if problem == "" {
		if file := body["body"].(string); !strings.HasPrefix(file, "http://") && !strings.HasPrefix(file, "https://") && !(strings.HasPrefix(file, "data:") && strings.Contains(file, ",")) {
			problem = "body must be an http(s) URL or a data URI"
		}
	}
	if problem == "" {
		problem = requireString(body, "filename")
	}
	if problem == "" {
		problem = optionalString(body, "caption")
	}
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	f.deliver(w, in, "sendFile", chatID, body)
}

// deliver answers a valid send the way Chat API does: sent with a new message
// id when the instance is authenticated, {"sent": false} with the reason when
// it is not.
func (f *Fake) deliver(w http.ResponseWriter, in *instance, method, chatID string, body map[string]any) {
	f.mu.Lock()
	status := in.accountStatus
	if status != StatusAuthenticated {
		f.mu.Unlock()
		sandbox.WriteJSON(w, http.StatusOK, map[string]any{
			"sent":    false,
			"message": "instance " + in.id + " is not authorized (account status: " + status + "); scan the QR code first",
		})
		return
	}
	id := f.nextMessageID(chatID)
	msg := Message{Instance: in.id, Method: method, ID: id, ChatID: chatID, Body: body, Number: int64(f.seq), Time: f.now().Unix()}
	f.sent = append(f.sent, msg)
	f.mu.Unlock()
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"sent": true, "message": "Sent to " + chatID, "id": id})
	f.notifySent(msg)
}

func (f *Fake) status(w http.ResponseWriter, _ *http.Request, in *instance) {
	f.mu.Lock()
	status := in.accountStatus
	f.mu.Unlock()
	out := map[string]any{"accountStatus": status}
	if status == StatusGotQRCode {
		out["qrCode"] = qrCode
	}
	sandbox.WriteJSON(w, http.StatusOK, out)
}

// decodeObject reads the request's JSON object body, answering 400 when it
// is not one.
func decodeObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read the request body")
		return nil, false
	}
	if len(data) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "request body is too large")
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil || body == nil {
		writeError(w, http.StatusBadRequest, "request body must be a JSON object")
		return nil, false
	}
	return body, true
}

// recipient returns the chat a send goes to: chatId when given (Chat API
// uses it instead of phone), else phone@c.us. A phone may be a string or a
// number.
func recipient(body map[string]any) (chatID, problem string) {
	if v, ok := body["chatId"]; ok && v != nil {
		s, _ := v.(string)
		if !chatIDRE.MatchString(s) {
			return "", "chatId must look like 17633123456@c.us or 17680561234-1479621234@g.us"
		}
		return s, ""
	}
	v, ok := body["phone"]
	if !ok || v == nil {
		return "", "phone or chatId is required"
	}
	phone, ok := asPhone(v)
	if !ok {
		return "", "phone must be digits with country code, such as 17472822486"
	}
	return phone + "@c.us", ""
}

func asPhone(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	default:
		return "", false
	}
	return s, phoneRE.MatchString(s)
}

func requireString(body map[string]any, key string) string {
	if s, _ := body[key].(string); strings.TrimSpace(s) != "" {
		return ""
	}
	return key + " is required"
}

func optionalString(body map[string]any, key string) string {
	if v, ok := body[key]; ok && v != nil {
		if _, isString := v.(string); !isString {
			return key + " must be a string"
		}
	}
	return ""
}

func phoneList(body map[string]any, key string) string {
	v, ok := body[key]
	if !ok || v == nil {
		return ""
	}
	list, ok := v.([]any)
	if !ok {
		return key + " must be a list of phone numbers"
	}
	for _, item := range list {
		if _, ok := asPhone(item); !ok {
			return key + " must be a list of phone numbers"
		}
	}
	return ""
}
