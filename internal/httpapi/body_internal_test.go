package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// readBodyAll is what readBody answers, written plainly: the body through
// io.ReadAll, cut at limit+1 bytes.
func readBodyAll(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// errBroken is the error of a body that breaks off.
var errBroken = errors.New("connection reset")

// TestReadBodyIsReadAll checks readBody against readBodyAll for bodies
// around the limit and the presize cap, declared with their length, with
// none, or with a wrong one, read a byte at a time, half a buffer at a
// time, with the data and the end in one read, or breaking off.
func TestReadBodyIsReadAll(t *testing.T) {
	t.Parallel()
	readers := map[string]func([]byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"data+EOF": func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"broken": func(b []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(b[:len(b)/2]), iotest.ErrReader(errBroken))
		},
	}
	for _, limit := range []int64{1, 10, 600, maxPresize + 100, 3 * maxPresize} {
		for _, size := range []int64{0, 1, 9, 10, 11, 599, 600, 601, maxPresize, maxPresize + 1, maxPresize + 100, maxPresize + 101, 3*maxPresize + 1} {
			body := bytes.Repeat([]byte("x"), int(size))
			for _, declared := range []int64{-1, 0, size, size - 1, size + 1} {
				for name, reader := range readers {
					req := func() *http.Request {
						return &http.Request{Body: io.NopCloser(reader(body)), ContentLength: declared}
					}
					want, wantErr := readBodyAll(req(), limit)
					got, err := readBody(req(), limit)
					what := fmt.Sprintf("limit %d, size %d, declared %d, %s", limit, size, declared, name)
					if wantErr != nil {
						require.Error(t, err, what)
						require.Equal(t, wantErr.Error(), err.Error(), what)
						require.Equal(t, errors.Is(wantErr, errBodyTooLarge), errors.Is(err, errBodyTooLarge), what)
						continue
					}
					require.NoError(t, err, what)
					require.True(t, bytes.Equal(want, got), what)
				}
			}
		}
	}
	got, err := readBody(&http.Request{Body: http.NoBody}, 10)
	require.NoError(t, err)
	require.Nil(t, got)
}
