package signallink_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/signallink"
)

func TestLinksVerifyAndTamperingFails(t *testing.T) {
	t.Parallel()
	s, err := signallink.New([]byte(strings.Repeat("k", 32)), "https://herald.example.com/")
	require.NoError(t, err)
	url := s.URL("01RUN", "ack")
	require.True(t, strings.HasPrefix(url, "https://herald.example.com/signal/"), url)
	tok := strings.TrimPrefix(url, "https://herald.example.com/signal/")
	run, name, err := s.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, "01RUN", run)
	require.Equal(t, "ack", name)

	other := s.Token("01RUN", "nack")
	payload, _, _ := strings.Cut(other, ".")
	_, mac, _ := strings.Cut(tok, ".")
	for _, bad := range []string{"", "x", tok + "x", payload + "." + mac, strings.Repeat("a", signallink.MaxTokenLen+1)} {
		_, _, err := s.Verify(bad)
		require.ErrorIs(t, err, signallink.ErrInvalid, bad)
	}
	s2, err := signallink.New([]byte(strings.Repeat("j", 32)), "https://herald.example.com")
	require.NoError(t, err)
	_, _, err = s2.Verify(tok)
	require.ErrorIs(t, err, signallink.ErrInvalid, "another key does not accept the link")
	_, err = signallink.New([]byte("short"), "")
	require.Error(t, err)
}

func TestLoadKeyGeneratesOnceThenReads(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(signallink.KeyEnv, "")
	k1, err := signallink.LoadKey(dir)
	require.NoError(t, err)
	k2, err := signallink.LoadKey(dir)
	require.NoError(t, err)
	require.Equal(t, k1, k2)
	fi, err := os.Stat(filepath.Join(dir, signallink.KeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	t.Setenv(signallink.KeyEnv, strings.Repeat("e", 40))
	k3, err := signallink.LoadKey(dir)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("e", 40), string(k3))
	t.Setenv(signallink.KeyEnv, "too-short")
	_, err = signallink.LoadKey(dir)
	require.Error(t, err)
}

func FuzzVerify(f *testing.F) {
	s, _ := signallink.New([]byte(strings.Repeat("k", 32)), "")
	f.Add(s.Token("run", "ack"))
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, tok string) {
		run, name, err := s.Verify(tok)
		if err == nil {
			require.Equal(t, tok, s.Token(run, name), "only a token the signer made verifies")
		}
	})
}
