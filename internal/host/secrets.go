package host

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/heraldhq/herald/internal/config"
)

// Secrets resolves secrets.NAME: first from the dotenv file given with
// --secrets-file, then from the environment variable HERALD_SECRET_NAME.
type Secrets struct {
	file map[string]string
}

// LoadSecrets reads a dotenv file (KEY=value lines; '#' comments, optional
// "export " prefix and quotes). Keys may be written NAME or
// HERALD_SECRET_NAME. An empty path reads nothing.
func LoadSecrets(path string) (*Secrets, error) {
	s := &Secrets{file: map[string]string{}}
	if path == "" {
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected KEY=value", path, line)
		}
		key = strings.TrimPrefix(strings.TrimSpace(key), config.SecretEnvPrefix)
		if key == "" {
			return nil, fmt.Errorf("%s:%d: empty key", path, line)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		s.file[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("secrets file: %w", err)
	}
	return s, nil
}

// Lookup returns the value of secrets.NAME.
func (s *Secrets) Lookup(name string) (string, bool) {
	if v, ok := s.file[name]; ok {
		return v, true
	}
	return config.EnvSecret(name)
}

// Values returns every secret value known before the project loads: the
// file's and every HERALD_SECRET_* variable's. Logs mask them from the start.
func (s *Secrets) Values() []string {
	var out []string
	for _, v := range s.file {
		out = append(out, v)
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, config.SecretEnvPrefix) {
			out = append(out, v)
		}
	}
	return out
}
