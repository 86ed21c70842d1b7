package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/host"
)

// fingerprint identifies the state of a project directory's files.
type fingerprint string

func readFingerprint(dir string) (fingerprint, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || !config.IsProjectFile(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s:%d:%d", e.Name(), info.Size(), info.ModTime().UnixNano()))
	}
	sort.Strings(parts)
	return fingerprint(strings.Join(parts, "|")), nil
}

// watch reloads the project when its files change.
func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fp, err := readFingerprint(s.opts.Host.Dir)
		if err != nil || fp == s.files {
			continue
		}
		s.files = fp
		s.Reload(ctx)
	}
}

// Reload validates the project directory and, when it is valid, serves it:
// runs in flight finish with the version they started with. An invalid
// project is logged with its diagnostics and the running one stays.
func (s *Server) Reload(ctx context.Context) error {
	diags, err := s.host.Reload(ctx)
	if err != nil {
		var ip *host.InvalidProjectError
		if errors.As(err, &ip) {
			for _, d := range ip.Diagnostics {
				s.logger.Error("reload refused: " + d.String())
			}
			s.logger.Error("the project has errors; still serving the previous version", "errors", len(ip.Diagnostics.Errors()))
			return err
		}
		s.logger.Error("reload failed; still serving the previous version", "error", err)
		return err
	}
	for _, d := range diags {
		s.logger.Warn(d.String())
	}
	s.scheds.mu.Lock()
	err = s.scheds.cur.Load(s.Project())
	s.scheds.mu.Unlock()
	if err != nil {
		s.logger.Error("reload: scheduler", "error", err)
		return err
	}
	s.logger.Info("project reloaded", "dir", filepath.Clean(s.opts.Host.Dir), "workflows", len(s.Project().Workflows))
	return nil
}
