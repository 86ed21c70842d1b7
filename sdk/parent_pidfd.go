//go:build linux && !(mips || mipsle || mips64 || mips64le)

package sdk

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// sysPidfdOpen is pidfd_open(2)'s number on every Linux architecture Go
// supports but MIPS, whose tables are offset (it polls instead).
const sysPidfdOpen = 434

// pidfdRecheck bounds a wait on the parent's pidfd: the parent pid is
// checked again at least this often, whatever the poller reports.
const pidfdRecheck = 30 * time.Second

// waitParent returns once the process's parent, ppid, is gone: the kernel
// has then re-parented the process, so its parent pid changed. It waits on
// a pidfd of the parent, which becomes readable when the parent exits, with
// no wake-up while the parent lives; where the kernel has no pidfd (before
// Linux 5.3) it checks the parent pid every interval.
func waitParent(ppid int, every time.Duration) {
	if err := waitPidfd(ppid); err != nil {
		pollParent(ppid, every)
	}
}

// waitPidfd waits on a pidfd of ppid until the process's parent pid is no
// longer ppid, or reports why it cannot.
func waitPidfd(ppid int) error {
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(ppid), 0, 0)
	if errno != 0 {
		return errno
	}
	// The parent may have exited before pidfd_open, and its pid been
	// taken by another process: the pidfd is the parent's only while the
	// parent pid is still ppid, which the wait below checks first.
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		_ = syscall.Close(int(fd))
		return err
	}
	f := os.NewFile(fd, "parent pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	gone := func(uintptr) bool { return os.Getppid() != ppid }
	for {
		if err := f.SetReadDeadline(time.Now().Add(pidfdRecheck)); err != nil {
			return err // not a file the runtime's poller waits on
		}
		err := rc.Read(gone)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
}
