package httpapi

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWriteAcceptedIsWriteJSON checks the webhook's hand-built 202 answer
// against writeJSON's encoding of hookResponse, byte for byte, headers
// included, for run ids of every kind of character.
func TestWriteAcceptedIsWriteJSON(t *testing.T) {
	t.Parallel()
	a := &api{}
	for _, id := range []string{"", "01JRUN9ZQ7XK3M2V4B8C6D5E1F", `q"\<>&`, "ünï\u2028\xff\n"} {
		want := httptest.NewRecorder()
		a.writeJSON(want, 202, hookResponse{RunIDs: []string{id}})
		got := httptest.NewRecorder()
		writeAccepted(got, id)
		require.Equal(t, want.Code, got.Code, id)
		require.Equal(t, want.Header(), got.Header(), id)
		require.Equal(t, want.Body.String(), got.Body.String(), id)
	}
}
