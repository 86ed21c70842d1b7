// Package signallink makes and checks the signed acknowledge links of
// run.signal_url.<name>: a link names one run and one signal, carries an
// HMAC-SHA256 of them under a key only the host holds, and so is its own
// capability, usable without the API token. It owns the token format and
// the key's loading; it keeps no state: single use is recorded by the store
// (store.Waits.UseSignalToken) and the signal is delivered by the engine.
package signallink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Defaults and limits.
const (
	// KeyEnv names the variable that holds the key.
	KeyEnv = "HERALD_SIGNAL_KEY"
	// KeyFile is the generated key's file name, beside the SQLite store.
	KeyFile = "signal.key"
	// MinKeyLen is the shortest key accepted, in bytes.
	MinKeyLen = 32
	// MaxTokenLen bounds a token; longer ones are refused unread.
	MaxTokenLen = 512
	// PathPrefix is where the links are served.
	PathPrefix = "/signal/"
	macLen     = 16
)

// enc encodes token parts: URL-safe, without padding.
var enc = base64.RawURLEncoding.Strict()

// Signer makes and verifies links under one key.
type Signer struct {
	key  []byte
	base string
}

// New returns a Signer whose links start with publicURL (such as
// https://herald.example.com). key must be at least MinKeyLen bytes.
func New(key []byte, publicURL string) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("the signal key must be at least %d bytes", MinKeyLen)
	}
	return &Signer{key: append([]byte(nil), key...), base: strings.TrimRight(publicURL, "/")}, nil
}

// Token returns the token of the signal name of run runID: the two, and a
// MAC of both.
func (s *Signer) Token(runID, name string) string {
	payload := enc.EncodeToString([]byte(runID + "\x00" + name))
	return payload + "." + enc.EncodeToString(s.mac(payload))
}

// URL returns the link of the signal name of run runID.
func (s *Signer) URL(runID, name string) string {
	return s.base + PathPrefix + s.Token(runID, name)
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("herald-signal-link\x00" + payload))
	return m.Sum(nil)[:macLen]
}

// ErrInvalid reports a token that is malformed or whose MAC is wrong.
var ErrInvalid = errors.New("invalid signal link")

// Verify returns the run and signal a token names, or ErrInvalid.
func (s *Signer) Verify(token string) (runID, name string, err error) {
	if len(token) > MaxTokenLen {
		return "", "", ErrInvalid
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", ErrInvalid
	}
	got, err := enc.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(payload)) {
		return "", "", ErrInvalid
	}
	raw, err := enc.DecodeString(payload)
	if err != nil {
		return "", "", ErrInvalid
	}
	// Only the signer's own spelling of a token is valid: the decoder skips
	// line breaks, so without this check "ab\ncd" would verify as "abcd"
	// and, being another string, escape the single-use record of the token.
	if enc.EncodeToString(got) != sig || enc.EncodeToString(raw) != payload {
		return "", "", ErrInvalid
	}
	runID, name, ok = strings.Cut(string(raw), "\x00")
	if !ok || runID == "" || name == "" {
		return "", "", ErrInvalid
	}
	return runID, name, nil
}

// LoadKey returns the key from KeyEnv, else from dir/KeyFile, which it
// creates (mode 0600) with a random key the first time.
func LoadKey(dir string) ([]byte, error) {
	if v := os.Getenv(KeyEnv); v != "" {
		if len(v) < MinKeyLen {
			return nil, fmt.Errorf("%s must be at least %d characters", KeyEnv, MinKeyLen)
		}
		return []byte(v), nil
	}
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if len(key) < MinKeyLen {
			return nil, fmt.Errorf("%s holds a key shorter than %d characters", path, MinKeyLen)
		}
		return []byte(key), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	key := hex.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadKey(dir) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("create the signal key: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return []byte(key), nil
}
