package scaleout

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// treeCPU returns the CPU time (user + system) process pid and its children
// have used so far, read from /proc; zero where /proc is unavailable.
func treeCPU(pid int) time.Duration {
	total, _ := procCPU(pid)
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if cpu, parent := procCPU(child); parent == pid {
			total += cpu
		}
	}
	return total
}

// procCPU returns the CPU time of process pid and its parent's pid.
func procCPU(pid int) (cpu time.Duration, parent int) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// The command name, in parentheses, may hold spaces: the fields that
	// matter follow its closing parenthesis.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, 0
	}
	parent, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick, parent
}
