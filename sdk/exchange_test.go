package sdk_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
	"github.com/heraldhq/herald/sdk/sdktest"
)

// exchangeOf invokes post with an Exchange in the context and returns it.
func exchangeOf(t *testing.T, c sdk.Client, text string) (*sdk.Exchange, error) {
	t.Helper()
	ex := &sdk.Exchange{}
	input, _ := json.Marshal(map[string]string{"text": text})
	_, err := c.Invoke(sdk.WithExchange(context.Background(), ex), &sdk.InvokeRequest{Instance: "main", Action: "post", Input: input})
	return ex, err
}

func TestExchangeRecordsTheMaskedRequestAndResponse(t *testing.T) {
	t.Parallel()
	rec := &recorder{status: 500, answer: `{"error":"token tok/s3cr3t+1 broke us"}`}
	s := newPoster(t, rec)
	ex, err := exchangeOf(t, s, "hello tok/s3cr3t+1")
	require.Equal(t, sdk.ClassRetryable, sdk.AsError(err).Class)

	var req struct {
		Method string         `json:"method"`
		URL    string         `json:"url"`
		Body   map[string]any `json:"body"`
	}
	require.NoError(t, json.Unmarshal(ex.Request(), &req), string(ex.Request()))
	require.Equal(t, "POST", req.Method)
	require.True(t, strings.HasSuffix(req.URL, "/eu/send?token=***"), req.URL)
	require.Equal(t, "hello ***", req.Body["text"])
	require.JSONEq(t, `{"status":500,"body":{"error":"token *** broke us"}}`, string(ex.Response()))
	require.NotContains(t, string(ex.Request())+string(ex.Response()), "s3cr3t")
}

func TestExchangeIsCapped(t *testing.T) {
	t.Parallel()
	rec := &recorder{answer: `{"echo":"` + strings.Repeat("y", 20000) + `"}`}
	s := newPoster(t, rec)
	ex, err := exchangeOf(t, s, strings.Repeat("x", 20000))
	require.NoError(t, err)
	require.LessOrEqual(t, len(ex.Request()), sdk.MaxExchangeBytes)
	require.LessOrEqual(t, len(ex.Response()), sdk.MaxExchangeBytes)
	require.True(t, json.Valid(ex.Request()))
	require.Contains(t, string(ex.Response()), `"status":200`)
	require.Contains(t, string(ex.Response()), "…")
}

// TestExchangeCrossesGRPC checks that the exchange a plugin records travels
// back with the invoke's result, for success and failure alike.
func TestExchangeCrossesGRPC(t *testing.T) {
	t.Parallel()
	rec := &recorder{status: 502, answer: `bad gateway`}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c := sdktest.Serve(t, &poster{http: sdk.NewHTTP(5 * time.Second)})
	cfg, _ := json.Marshal(map[string]any{"api_url": srv.URL, "token": "tok/s3cr3t+1"})
	require.NoError(t, c.Configure(context.Background(), "main", cfg))

	ex, err := exchangeOf(t, c, "over grpc")
	require.Error(t, err)
	require.Contains(t, string(ex.Request()), `"over grpc"`)
	require.JSONEq(t, `{"status":502,"body":"bad gateway"}`, string(ex.Response()))

	rec.mu.Lock()
	rec.status, rec.answer = 200, `{"id":"m1"}`
	rec.mu.Unlock()
	ex, err = exchangeOf(t, c, "again")
	require.NoError(t, err)
	require.JSONEq(t, `{"status":200,"body":{"id":"m1"}}`, string(ex.Response()))
}
