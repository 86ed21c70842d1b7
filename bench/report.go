package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets of issue 16 for Herald, checked on the medians.
const (
	targetOfFloor        = 0.40
	targetOfDurableFloor = 0.70
	targetCPUMicros      = 350
	targetSequentialP50  = 1500 * time.Microsecond
	targetRSSMiB         = 80
)

// median returns the median of xs (the mean of the middle two for an even
// count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// summary is one system's medians in one mode.
type summary struct {
	throughput, p50, p99 float64
	answerP50, answerP99 float64
	cpu, rss             []float64
	rounds               []float64
	sent, answered200    int
	writesPerCommit      float64
	// busy is the share of the machine's CPU time in use over the window;
	// machineUser, machineSystem and machineIRQ are its CPU time by kind
	// per delivered message, in µs, whatever process used it (other
	// programs on the machine included); bench is the bench process's.
	busy                                   float64
	machineUser, machineSystem, machineIRQ float64
	bench                                  float64
	// switches, preempted and kernel are per process, as measurement's
	// Switches, Preempted and Kernel; the commit figures are herald's.
	switches, preempted                 []float64
	kernel                              []float64
	commitsPerMsg, commitMs, commitBusy float64
}

// cpuTotal and rssTotal add up the processes of a system.
func (s summary) cpuTotal() float64 { return sum(s.cpu) }
func (s summary) rssTotal() float64 { return sum(s.rss) }

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}

// summarize takes the medians of a system's rounds in one mode.
func summarize(ms []measurement) summary {
	var s summary
	pick := func(f func(measurement) float64) float64 {
		xs := make([]float64, len(ms))
		for i, m := range ms {
			xs[i] = f(m)
		}
		return median(xs)
	}
	s.throughput = pick(func(m measurement) float64 { return m.Throughput })
	s.p50 = pick(func(m measurement) float64 { return float64(m.P50) })
	s.p99 = pick(func(m measurement) float64 { return float64(m.P99) })
	s.answerP50 = pick(func(m measurement) float64 { return float64(m.AnswerP50) })
	s.answerP99 = pick(func(m measurement) float64 { return float64(m.AnswerP99) })
	if len(ms) > 0 {
		for i := range ms[0].CPU {
			s.cpu = append(s.cpu, pick(func(m measurement) float64 { return m.CPU[i] }))
			s.rss = append(s.rss, pick(func(m measurement) float64 { return m.RSS[i] }))
		}
	}
	s.writesPerCommit = pick(func(m measurement) float64 { return m.WritesPerCommit })
	s.busy = pick(func(m measurement) float64 { return m.Machine.busy() })
	perMsg := func(ticks func(machineTicks) uint64) float64 {
		return pick(func(m measurement) float64 {
			if m.Arrived == 0 {
				return 0
			}
			return float64(ticks(m.Machine)) / clockTicks * 1e6 / float64(m.Arrived)
		})
	}
	s.machineUser = perMsg(func(t machineTicks) uint64 { return t.User })
	s.machineSystem = perMsg(func(t machineTicks) uint64 { return t.System })
	s.machineIRQ = perMsg(func(t machineTicks) uint64 { return t.IRQ })
	s.bench = pick(func(m measurement) float64 { return m.BenchCPU })
	s.commitsPerMsg = pick(func(m measurement) float64 { return m.CommitsPerMsg })
	s.commitMs = pick(func(m measurement) float64 { return m.CommitMs })
	s.commitBusy = pick(func(m measurement) float64 { return m.CommitBusy })
	if len(ms) > 0 {
		for i := range ms[0].Kernel {
			s.kernel = append(s.kernel, pick(func(m measurement) float64 { return m.Kernel[i] }))
		}
		for i := range ms[0].Switches {
			s.switches = append(s.switches, pick(func(m measurement) float64 { return m.Switches[i] }))
			s.preempted = append(s.preempted, pick(func(m measurement) float64 { return m.Preempted[i] }))
		}
	}
	for _, m := range ms {
		s.rounds = append(s.rounds, m.Throughput)
		s.sent += m.Sent
		s.answered200 += m.Answered200
	}
	return s
}

// perProcess writes figures of a system's processes: "host 512 + plugin
// 190 = 702", or the one figure of a single process.
func perProcess(procs []proc, xs []float64, format string) string {
	if len(xs) == 1 {
		return fmt.Sprintf(format, xs[0])
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = procs[i].role + " " + fmt.Sprintf(format, x)
	}
	return strings.Join(parts, " + ") + " = " + fmt.Sprintf(format, sum(xs))
}

// perProcessStrings writes already formatted figures of a system's
// processes: "host a + plugin b", or the one figure of a single process.
func perProcessStrings(procs []proc, xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = procs[i].role + " " + x
	}
	return strings.Join(parts, " + ")
}

// loadAverage is the first three fields of /proc/loadavg, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func ms(ns float64) string {
	return time.Duration(ns).Round(10 * time.Microsecond).String()
}

// print writes the tables of every mode and the targets.
func (r *report) print(w io.Writer) error {
	host, _ := os.Hostname()
	c := r.cfg
	fmt.Fprintf(w, "\nwebhook → one-step workflow → sandbox provider; %s, %d CPUs, %s\n", host, numCPU(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "medians of %d rounds (systems in alternating order each round); %s warm-up before each measurement;\n", c.Rounds, c.Warmup)
	fmt.Fprintf(w, "p50/p99: from sending the webhook to the sandbox receiving the message; answer: from sending it to the end of its HTTP answer;\n")
	fmt.Fprintf(w, "CPU: each process's utime+stime over the window / messages delivered in it; RSS at the end of the window;\n")
	fmt.Fprintf(w, "busy: the machine's CPU time not idle over the window (/proc/stat), whoever used it, and in brackets the share the system's processes\n")
	fmt.Fprintf(w, "and this one used (their CPU µs/msg + bench's, × msgs/s, over the CPUs); bench: this process's CPU (load + sandbox) / message\n")
	fmt.Fprintf(w, "load average at the start: %s, at the end: %s\n", r.loadStart, loadAverage())
	cpus := float64(numCPU())
	sums := map[string]map[string]summary{}
	for _, m := range r.modes {
		sums[m.name] = map[string]summary{}
		fmt.Fprintf(w, "\n%s, %s measured\n\n", m.name, m.duration)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "system\tmsgs/s\tp50\tp99\tanswer p50\tanswer p99\tCPU µs/msg\tRSS MiB\tbusy\tbench µs/msg\tof floor\tof durable floor\tmsgs/s by round\t\n")
		floor, durable := summarize(r.byMode[m.name][r.systems[0].name]), summarize(r.byMode[m.name][r.systems[1].name])
		for _, sys := range r.systems {
			s := summarize(r.byMode[m.name][sys.name])
			sums[m.name][sys.name] = s
			rounds := make([]string, len(s.rounds))
			for i, x := range s.rounds {
				rounds[i] = fmt.Sprintf("%.0f", x)
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%% (%.0f%%)\t%.0f\t%.0f%%\t%.0f%%\t%s\t\n", sys.name, s.throughput, ms(s.p50), ms(s.p99), ms(s.answerP50), ms(s.answerP99),
				perProcess(sys.procs, s.cpu, "%.0f"), perProcess(sys.procs, s.rss, "%.1f"), 100*s.busy, 100*(s.cpuTotal()+s.bench)*s.throughput/1e6/cpus, s.bench,
				100*s.throughput/floor.throughput, 100*s.throughput/durable.throughput, strings.Join(rounds, " / "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "the machine's CPU time per message (all processes) by kind; each process's kernel (system) CPU µs per message, and its context switches per message (of them preempted):\n")
		for _, sys := range r.systems {
			s := sums[m.name][sys.name]
			cs := make([]string, len(s.switches))
			for i, x := range s.switches {
				cs[i] = fmt.Sprintf("%.1f (%.2f)", x, s.preempted[i])
			}
			procs := perProcessStrings(sys.procs, cs)
			fmt.Fprintf(w, "  %s: user %.0f + system %.0f + irq %.0f = %.0f µs; kernel %s; switches %s\n", sys.name,
				s.machineUser, s.machineSystem, s.machineIRQ, s.machineUser+s.machineSystem+s.machineIRQ, perProcess(sys.procs, s.kernel, "%.0f"), procs)
		}
		for _, sys := range r.systems {
			if s := sums[m.name][sys.name]; s.commitsPerMsg > 0 {
				fmt.Fprintf(w, "%s: %.2f commits per message, %.2f ms each (write and fsync), the writer committing %.0f%% of the window\n", sys.name, s.commitsPerMsg, s.commitMs, 100*s.commitBusy)
			}
			if s := sums[m.name][sys.name]; s.writesPerCommit > 0 {
				fmt.Fprintf(w, "%s: %.1f writes per commit (group commit)\n", sys.name, s.writesPerCommit)
			}
			if s := sums[m.name][sys.name]; s.answered200 > 0 {
				fmt.Fprintf(w, "%s: %d of %d webhooks of the windows answered 200 with the run object (the rest 202 at respond_timeout)\n", sys.name, s.answered200, s.sent)
			}
		}
	}
	closed, seq := sums[r.modes[0].name], sums[r.modes[1].name]
	floor, durable := closed[r.systems[0].name], closed[r.systems[1].name]
	fmt.Fprintf(w, "\ntargets of issue 16 (closed loop, except the sequential p50)\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "system\tmsgs/s ≥ 40%% of floor\tmsgs/s ≥ 70%% of durable floor\thost+plugin CPU ≤ 350 µs/msg\tsequential p50 ≤ 1.5 ms\tRSS host+plugin ≤ 80 MiB\t\n")
	for _, sys := range r.systems {
		if !sys.herald {
			continue
		}
		s := closed[sys.name]
		fmt.Fprintf(tw, "%s\t%.0f%% %s\t%.0f%% %s\t%.0f %s\t%s %s\t%.1f %s\t\n", sys.name,
			100*s.throughput/floor.throughput, met(s.throughput >= targetOfFloor*floor.throughput),
			100*s.throughput/durable.throughput, met(s.throughput >= targetOfDurableFloor*durable.throughput),
			s.cpuTotal(), met(s.cpuTotal() <= targetCPUMicros),
			ms(seq[sys.name].p50), met(seq[sys.name].p50 <= float64(targetSequentialP50)),
			s.rssTotal(), met(s.rssTotal() <= targetRSSMiB))
	}
	return tw.Flush()
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}
