package load

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
)

// TestRunClosesItsConnections: once Run returns, the system under test
// holds none of its clients' connections, so a later window does not
// measure the memory of an earlier window's idle connections.
func TestRunClosesItsConnections(t *testing.T) {
	t.Parallel()
	sb := sandboxproviders.New()
	var open atomic.Int64
	// A system that passes each webhook on to the sandbox, as the floor does.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Msg string `json:"msg"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		body, _ := json.Marshal(map[string]string{"phone": "14155550123", "body": in.Msg})
		req := httptest.NewRequest(http.MethodPost, "/chatapi/instance229607/sendMessage?token=sandbox-token", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sb.ServeHTTP(httptest.NewRecorder(), req)
		w.WriteHeader(http.StatusAccepted)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()

	res, err := Run(context.Background(), "floor", Options{Targets: []string{srv.URL}, Sandbox: sb, Clients: 4, Duration: 200 * time.Millisecond})
	require.NoError(t, err)
	require.Positive(t, res.Delivered)
	require.Eventually(t, func() bool { return open.Load() == 0 }, 10*time.Second, 10*time.Millisecond,
		"the server still holds connections of a finished run")
}
