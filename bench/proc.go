package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat: 100 on Linux for every architecture Go supports.
const clockTicks = 100

// statFields returns the fields of /proc/<pid>/stat after the command name,
// so that index 0 is field 3 (state) of proc(5).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

// cpuSeconds is the CPU time pid has used so far, user and system.
func cpuSeconds(pid int) (float64, error) {
	user, system, err := cpuTimes(pid)
	return user + system, err
}

// cpuTimes is the CPU time pid has used so far in user mode and in the
// kernel (its system calls; softirq time is the machine's, not its own).
func cpuTimes(pid int) (user, system float64, err error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, 0, err
	}
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return float64(utime) / clockTicks, float64(stime) / clockTicks, nil
}

// rssMiB is pid's resident set now, in MiB.
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: VmRSS %q", pid, rest)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// childPID finds the child process of parent whose executable is named
// name (the plugin go-plugin launched for herald).
func childPID(parent int, name string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := statFields(pid)
		if err != nil || len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && filepath.Base(exe) == name {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child process %s of pid %d", name, parent)
}

// machineTicks is the whole machine's CPU time so far, summed over its
// CPUs, in clock ticks, from the first ("cpu") line of /proc/stat.
type machineTicks struct {
	// User is user and nice time; System is system time; IRQ is irq and
	// softirq time (loopback TCP's receive path runs in softirq); Idle is
	// idle and iowait time; Total is all of them and steal.
	User, System, IRQ, Idle, Total uint64
}

// readMachineTicks reads the machine's CPU time from /proc/stat.
func readMachineTicks() (machineTicks, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTicks{}, err
	}
	return parseMachineTicks(string(b))
}

// parseMachineTicks parses the "cpu" line of /proc/stat: user nice system
// idle iowait irq softirq steal (guest time is already in user and nice).
func parseMachineTicks(stat string) (machineTicks, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineTicks{}, fmt.Errorf("/proc/stat: first line %q", line)
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return machineTicks{}, fmt.Errorf("/proc/stat: field %d: %w", i+1, err)
		}
		v[i] = n
	}
	t := machineTicks{User: v[0] + v[1], System: v[2], Idle: v[3] + v[4], IRQ: v[5] + v[6]}
	t.Total = t.User + t.System + t.Idle + t.IRQ + v[7]
	return t, nil
}

// sub is the machine's CPU time between before and t.
func (t machineTicks) sub(before machineTicks) machineTicks {
	return machineTicks{User: t.User - before.User, System: t.System - before.System, IRQ: t.IRQ - before.IRQ,
		Idle: t.Idle - before.Idle, Total: t.Total - before.Total}
}

// busy is the share of the machine's CPU time that was not idle (nor
// waiting for I/O), 0 to 1.
func (t machineTicks) busy() float64 {
	if t.Total == 0 {
		return 0
	}
	return float64(t.Total-t.Idle) / float64(t.Total)
}

// ctxSwitches is how many times pid's threads have been switched out so
// far, voluntarily (they blocked) and not (they were preempted), summed
// over /proc/<pid>/task/*/status: the process's own status counts its
// first thread only. Threads that have exited are not counted (a Go
// program rarely ends a thread).
func ctxSwitches(pid int) (voluntary, involuntary uint64, err error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // the thread exited since the listing
		}
		v, n, err := parseCtxSwitches(string(b))
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/task/%s/status: %w", pid, t.Name(), err)
		}
		voluntary += v
		involuntary += n
	}
	return voluntary, involuntary, nil
}

// parseCtxSwitches reads the context switch counts of a /proc status file.
func parseCtxSwitches(status string) (voluntary, involuntary uint64, err error) {
	var seen int
	for line := range strings.SplitSeq(status, "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "voluntary_ctxt_switches" && name != "nonvoluntary_ctxt_switches") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s %q", name, val)
		}
		if name == "voluntary_ctxt_switches" {
			voluntary = n
		} else {
			involuntary = n
		}
		seen++
	}
	if seen != 2 {
		return 0, 0, fmt.Errorf("no context switch counts")
	}
	return voluntary, involuntary, nil
}
