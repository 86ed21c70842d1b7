package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/httpapi"
)

// maxHookAllocs is how many allocations the API may add to a webhook over
// a bare handler that reads the body and answers 202 (BenchmarkHookHandler
// measures both): 15 since session 11, 24 before (the ServeMux's routing of
// /hooks/{path...} 5, reading the body through bytes.Buffer and
// io.LimitReader 2, the answer's header values and buffer 2). Most of the
// rest are the JSON body's values.
const maxHookAllocs = 15

// TestHookAllocations checks the allocations of an unsigned webhook from
// request to 202 against a no-op runtime, beside the bare handler's.
func TestHookAllocations(t *testing.T) {
	body := []byte(`{"urgent":true,"recipients":[{"phone":"14155550123","name":"Ada"},{"phone":"14155550124","name":"Bob"}],"note":"disk almost full on db-1"}`)
	h := httpapi.New(noopRuntime{project: loadProject(t)}, httpapi.Options{})
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"run_ids":["01JRUN"]}` + "\n"))
	})
	allocs := func(h http.Handler) float64 {
		return testing.AllocsPerRun(200, func() {
			r := httptest.NewRequest("POST", "/hooks/team/open", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusAccepted {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
		})
	}
	api, base := allocs(h), allocs(bare)
	require.LessOrEqual(t, api-base, float64(maxHookAllocs), "the API makes %.0f allocations per webhook, the bare handler %.0f", api, base)
}
