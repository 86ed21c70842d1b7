package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// ReceiptPlan tells the fake of one provider to post delivery receipts for
// the messages it sends back to Herald's provider webhook endpoint, as the
// real provider would: each status of the ladder up to Final, DelayMS apart.
type ReceiptPlan struct {
	// Provider is the fake: chatapi or chatwoot.
	Provider string `json:"provider"`
	// WebhookURL is where receipts go, such as
	// http://127.0.0.1:8080/providers/chatapi/webhook; empty turns the
	// provider's receipts off.
	WebhookURL string `json:"webhook_url"`
	// DelayMS is the wait before each receipt.
	DelayMS int `json:"delay_ms,omitempty"`
	// Final is the last status posted, in Herald's words: sent, delivered,
	// read (the default) or failed; none posts nothing.
	Final string `json:"final,omitempty"`
}

// Statuses returns the statuses the plan posts for a message, in order:
// sent, then delivered, then read, stopping at Final; failed comes after
// sent.
func (p ReceiptPlan) Statuses() ([]string, error) {
	switch p.Final {
	case "", "read":
		return []string{"sent", "delivered", "read"}, nil
	case "delivered":
		return []string{"sent", "delivered"}, nil
	case "sent":
		return []string{"sent"}, nil
	case "failed":
		return []string{"sent", "failed"}, nil
	case "none":
		return nil, nil
	}
	return nil, fmt.Errorf("receipt plan: final %q is not sent, delivered, read, failed or none", p.Final)
}

// PostedReceipt is one receipt a fake posted, for GET /_sandbox/receipts.
type PostedReceipt struct {
	Provider  string    `json:"provider"`
	MessageID string    `json:"message_id"`
	Status    string    `json:"status"`
	URL       string    `json:"url"`
	Code      int       `json:"code,omitempty"`
	Error     string    `json:"error,omitempty"`
	Time      time.Time `json:"time"`
}

// BuildReceipt renders the webhook a provider sends for one status of a
// message: its body and headers (signed where the provider signs).
type BuildReceipt func(status string) (body []byte, header http.Header)

// receipts holds the plans and what was posted.
type receipts struct {
	mu     sync.Mutex
	plans  map[string]ReceiptPlan
	posted []PostedReceipt
	wg     sync.WaitGroup
}

// maxPosted bounds the posted receipts kept for listing.
const maxPosted = 1000

// SetReceiptPlan sets (or, with an empty WebhookURL, clears) the receipt
// plan of p.Provider.
func (s *Sandbox) SetReceiptPlan(p ReceiptPlan) error {
	if p.Provider == "" {
		return fmt.Errorf("receipt plan: provider is required")
	}
	if _, err := p.Statuses(); err != nil {
		return err
	}
	if p.DelayMS < 0 {
		return fmt.Errorf("receipt plan: delay_ms is negative")
	}
	r := &s.receipts
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.plans == nil {
		r.plans = map[string]ReceiptPlan{}
	}
	if p.WebhookURL == "" {
		delete(r.plans, p.Provider)
		return nil
	}
	r.plans[p.Provider] = p
	return nil
}

// PostReceipts posts the receipts of one message provider's fake sent,
// following the provider's plan, in the background; without a plan it does
// nothing. build renders each receipt.
func (s *Sandbox) PostReceipts(provider, messageID string, build BuildReceipt) {
	r := &s.receipts
	r.mu.Lock()
	plan, ok := r.plans[provider]
	r.mu.Unlock()
	if !ok {
		return
	}
	statuses, _ := plan.Statuses()
	if len(statuses) == 0 {
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		client := &http.Client{Timeout: 10 * time.Second}
		for _, status := range statuses {
			time.Sleep(time.Duration(plan.DelayMS) * time.Millisecond)
			body, header := build(status)
			rec := PostedReceipt{Provider: provider, MessageID: messageID, Status: status, URL: plan.WebhookURL, Time: time.Now().UTC()}
			rec.Code, rec.Error = post(client, plan.WebhookURL, body, header)
			r.mu.Lock()
			r.posted = append(r.posted, rec)
			if len(r.posted) > maxPosted {
				r.posted = r.posted[len(r.posted)-maxPosted:]
			}
			r.mu.Unlock()
		}
	}()
}

// post sends one receipt and returns the answer's status code or the error.
func post(client *http.Client, url string, body []byte, header http.Header) (int, string) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, ""
}

// PostedReceipts returns the receipts posted so far, oldest first.
func (s *Sandbox) PostedReceipts() []PostedReceipt {
	r := &s.receipts
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PostedReceipt(nil), r.posted...)
}

// WaitReceipts waits until every receipt scheduled so far has been posted.
func (s *Sandbox) WaitReceipts() { s.receipts.wg.Wait() }

func (s *Sandbox) setReceipts(w http.ResponseWriter, r *http.Request) {
	var p ReceiptPlan
	if !decodeRequest(w, r, "receipt plan", &p) {
		return
	}
	if err := s.SetReceiptPlan(p); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

func (s *Sandbox) listReceipts(w http.ResponseWriter, _ *http.Request) {
	r := &s.receipts
	r.mu.Lock()
	plans := make([]ReceiptPlan, 0, len(r.plans))
	for _, p := range r.plans {
		plans = append(plans, p)
	}
	posted := append([]PostedReceipt{}, r.posted...)
	r.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"plans": plans, "posted": posted})
}

func (s *Sandbox) clearReceipts(w http.ResponseWriter, _ *http.Request) {
	r := &s.receipts
	r.mu.Lock()
	r.plans = nil
	r.posted = nil
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
