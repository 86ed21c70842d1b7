package host

import (
	"strings"

	"github.com/heraldhq/herald/internal/config"
)

// NewSecrets returns Secrets that resolve secrets.NAME from values first,
// then from the environment variable HERALD_SECRET_NAME, for embedders that
// hold their secrets in memory. Keys may be written NAME or
// HERALD_SECRET_NAME; values is copied.
func NewSecrets(values map[string]string) *Secrets {
	s := &Secrets{file: make(map[string]string, len(values))}
	for k, v := range values {
		s.file[strings.TrimPrefix(k, config.SecretEnvPrefix)] = v
	}
	return s
}
