package herald

import (
	"bytes"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

// TestMaskedLoggerMasksEveryArgument logs a secret holding quotes, a
// backslash and <>& as a message, a string, an error and inside a map and a
// list, to a JSON logger: no encoding of it may reach the output.
func TestMaskedLoggerMasksEveryArgument(t *testing.T) {
	t.Parallel()
	const secret = `a"b\c<&>d`
	var buf bytes.Buffer
	l := maskedLogger{
		Logger: hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true}),
		m:      &masks{base: sdk.NewMasker(secret)},
	}
	l.Info("token "+secret,
		"s", secret,
		"quoted", `got "a\"b\\c<&>d"`,
		"m", map[string]string{"k": secret},
		"l", []string{secret},
		"n", 42)
	out := buf.String()
	require.Contains(t, out, `"n":42`, "other values are left alone")
	for _, leak := range []string{secret, `a\"b\\c<&>d`, `a\"b\\c\u003c\u0026\u003ed`, `c\u003c\u0026`, `c<&>d`} {
		require.NotContains(t, out, leak)
	}
}
