package fake

import (
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/sandbox"
)

// lastMessages is how many messages ?last=true returns, as Chat API does.
const lastMessages = 100

// listedMessage is one message of GET /messages, in the shape of Chat API's
// Message model (testdata/messages.response.json).
type listedMessage struct {
	ID            string `json:"id"`
	Body          string `json:"body"`
	Type          string `json:"type"`
	SenderName    string `json:"senderName"`
	FromMe        bool   `json:"fromMe"`
	Author        string `json:"author"`
	Time          int64  `json:"time"`
	ChatID        string `json:"chatId"`
	MessageNumber int64  `json:"messageNumber"`
	// Caption is a file's caption; Chat API's webhooks carry it, and the
	// fake lists it for files only.
	Caption string `json:"caption,omitempty"`
}

// messages serves GET /instance{id}/messages: the instance's sent messages,
// oldest first, filtered by chatId, after lastMessageNumber, or the last 100
// with last=true; limit keeps the newest that many. The fake knows only the
// messages it sent, so every one is fromMe.
func (f *Fake) messages(w http.ResponseWriter, r *http.Request, in *instance) {
	q := r.URL.Query()
	var after, limit int64
	for name, dst := range map[string]*int64{"lastMessageNumber": &after, "limit": &limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, name+" must be a non-negative integer")
				return
			}
			*dst = n
		}
	}
	last := q.Get("last") == "true" || q.Get("last") == "1"
	chatID := q.Get("chatId")

	f.mu.Lock()
	var out []listedMessage
	var lastNumber int64
	for _, m := range f.sent {
		if m.Instance != in.id {
			continue
		}
		lastNumber = max(lastNumber, m.Number)
		if (chatID != "" && m.ChatID != chatID) || (!last && m.Number <= after) {
			continue
		}
		out = append(out, listed(m))
	}
	f.mu.Unlock()
	if last && len(out) > lastMessages {
		out = out[len(out)-lastMessages:]
	}
	if limit > 0 && int64(len(out)) > limit {
		out = out[int64(len(out))-limit:]
	}
	if out == nil {
		out = []listedMessage{}
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"messages": out, "lastMessageNumber": lastNumber})
}

// listed renders a sent message as GET /messages lists it. A text message
// has type chat and its text as body; a file has the type WhatsApp gives
// its kind, Chat API's own copy of the file as body (not the URL or data
// URI it was sent from) and its caption.
func listed(m Message) listedMessage {
	out := listedMessage{
		ID:            m.ID,
		Type:          "chat",
		SenderName:    "Herald Sandbox",
		FromMe:        true,
		Author:        DefaultInstanceID + "@c.us",
		Time:          m.Time,
		ChatID:        m.ChatID,
		MessageNumber: m.Number,
	}
	body, _ := m.Body["body"].(string)
	if m.Method != "sendFile" {
		out.Body = body
		return out
	}
	filename, _ := m.Body["filename"].(string)
	out.Type = fileType(filename)
	out.Body = "https://sandbox.chat-api.invalid/files/" + m.ID + "/" + path.Base(filename)
	out.Caption, _ = m.Body["caption"].(string)
	return out
}

// fileType is the message type WhatsApp gives a file by its extension.
func fileType(filename string) string {
	switch strings.ToLower(path.Ext(filename)) {
	case ".jpg", ".jpeg", ".png", ".gif", ".webp":
		return "image"
	case ".mp4", ".3gp", ".mov":
		return "video"
	case ".mp3", ".ogg", ".oga", ".m4a", ".wav":
		return "audio"
	default:
		return "document"
	}
}
