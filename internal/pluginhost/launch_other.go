//go:build !unix

package pluginhost

import (
	"errors"
	"os"
	"os/exec"
)

// ownProcessGroup does nothing where process groups are not available: the
// plugin's own process is all killGroup can reach.
func ownProcessGroup(*exec.Cmd) {}

// killGroup kills the process pid; its children, if any, are not reached.
func killGroup(pid int) error {
	if pid <= 0 {
		return nil
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}
