package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/httpapi"
)

func TestListenCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr, token string
		wantErr     string
	}{
		{addr: "127.0.0.1:8080"},
		{addr: "127.1.2.3:8080"},
		{addr: "[::1]:8080"},
		{addr: "localhost:8080"},
		{addr: "LOCALHOST:8080"},
		{addr: "[::ffff:127.0.0.1]:8080"},
		{addr: "0.0.0.0:8080", wantErr: "refusing to listen on 0.0.0.0:8080 (0.0.0.0) without an API token: set HERALD_API_TOKEN, or listen on a loopback address such as 127.0.0.1:8080"},
		{addr: ":8080", wantErr: "refusing to listen on :8080 (every interface) without an API token"},
		{addr: "[::]:8080", wantErr: "without an API token"},
		{addr: "10.0.0.5:9000", wantErr: "such as 127.0.0.1:9000"},
		{addr: "example.com:8080", wantErr: "without an API token"},
		{addr: "0.0.0.0:8080", token: "t"},
		{addr: ":8080", token: "t"},
		{addr: "example.com:8080", token: "t"},
		{addr: "127.0.0.1", wantErr: `invalid listen address "127.0.0.1"`},
		{addr: "127.0.0.1:http"},
		{addr: "127.0.0.1:nope", token: "t", wantErr: `bad port "nope"`},
	} {
		err := httpapi.ListenCheck(tc.addr, tc.token)
		if tc.wantErr == "" {
			require.NoError(t, err, "%s token=%q", tc.addr, tc.token)
			continue
		}
		require.ErrorContains(t, err, tc.wantErr, "%s token=%q", tc.addr, tc.token)
	}
}

func TestNewServer(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	srv := httpapi.NewServer("127.0.0.1:0", h)
	require.Equal(t, "127.0.0.1:0", srv.Addr)
	require.NotNil(t, srv.Handler)
	require.Positive(t, srv.ReadHeaderTimeout)
	require.Greater(t, srv.ReadTimeout, srv.ReadHeaderTimeout)
	require.Greater(t, srv.WriteTimeout, srv.ReadTimeout)
	require.Positive(t, srv.IdleTimeout)
	require.Equal(t, httpapi.MaxHeaderBytes, srv.MaxHeaderBytes)
}

func TestCheckToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		token, wantErr string
	}{
		{token: ""},
		{token: "0123456789abcdef"},
		{token: "correct horse battery staple"},
		{token: "x", wantErr: "HERALD_API_TOKEN is too short (1 character): use at least 16 random characters"},
		{token: "0123456789abcde", wantErr: "too short (15 characters)"},
		{token: "ééééééé", wantErr: "too short (7 characters)"},
		{token: " ", wantErr: "HERALD_API_TOKEN is blank (1 character of whitespace)"},
		{token: "\t\n                  ", wantErr: "is blank"},
		{token: "0123456789abcdef\n", wantErr: "starts or ends with whitespace"},
		{token: " 0123456789abcdef", wantErr: "starts or ends with whitespace"},
	} {
		err := httpapi.CheckToken("HERALD_API_TOKEN", tc.token)
		if tc.wantErr == "" {
			require.NoError(t, err, "%q", tc.token)
			continue
		}
		require.ErrorContains(t, err, tc.wantErr, "%q", tc.token)
		if len(tc.token) > 1 {
			require.NotContains(t, err.Error(), tc.token, "the error never quotes the token")
		}
	}
}
