package console_test

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/console"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func regexpFind(t *testing.T, pattern, s string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	require.NotNil(t, m, "no %s", pattern)
	return m[1]
}

func mustConsole(t *testing.T, b console.Backend, opts console.Options) http.Handler {
	t.Helper()
	c, err := console.New(b, opts)
	require.NoError(t, err)
	return c
}
