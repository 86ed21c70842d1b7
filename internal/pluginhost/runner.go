package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
)

// pipeGrace is how long the host keeps reading a plugin's stdout and stderr
// after its process group was killed. Only a process that left the group
// (setsid, setpgid) can still hold the pipes then; after pipeGrace the host
// closes its ends, so go-plugin's readers, and every caller waiting on them,
// return.
const pipeGrace = 2 * time.Second

// errAborted is returned by Start when the launch was given up (deadline,
// cancellation, host closed) before the process was started.
var errAborted = errors.New("plugin launch aborted")

// groupRunner runs a plugin executable for go-plugin (as its RunnerFunc) in
// a process group of its own, so that everything the plugin forks dies with
// it. go-plugin's own runner kills only the plugin's process and then waits
// for the plugin's stdout and stderr to close: a child the plugin forked,
// holding those pipes, makes that wait, and so Client and Kill, last as long
// as the child does. groupRunner kills the whole group whenever the plugin
// is killed, fails its handshake or exits, and stops reading the pipes
// pipeGrace later at the latest.
type groupRunner struct {
	cmd    *exec.Cmd
	secure *plugin.SecureConfig // the lock's sha256, checked right before exec

	stdout, stderr *os.File // the host's read ends, set by Start
	closeOnce      sync.Once

	mu      sync.Mutex
	pid     int  // set once started
	aborted bool // kill was called: do not start
	exited  chan struct{}
	waitErr error // why the process exited, once exited is closed
}

var _ runner.Runner = (*groupRunner)(nil)

func newGroupRunner(path string, secure *plugin.SecureConfig) *groupRunner {
	return &groupRunner{cmd: exec.Command(path), secure: secure, exited: make(chan struct{})}
}

// runnerFunc adapts r to go-plugin's ClientConfig.RunnerFunc: go-plugin
// passes a command that only carries the environment it built (handshake,
// certificate, socket directory), which is added to r's.
func (r *groupRunner) runnerFunc() func(_ hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
	return func(_ hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
		r.cmd.Env = append(r.cmd.Env, spec.Env...)
		return r, nil
	}
}

// Start checks the binary against the lock and starts it, in its own
// process group, with stdin from /dev/null.
func (r *groupRunner) Start(context.Context) error {
	if r.secure != nil {
		ok, err := r.secure.Check(r.cmd.Path)
		if err != nil {
			return fmt.Errorf("error verifying checksum: %w", err)
		}
		if !ok {
			return plugin.ErrChecksumsDoNotMatch
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	r.cmd.Stdout, r.cmd.Stderr = outW, errW
	ownProcessGroup(r.cmd)

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.aborted {
		err = errAborted
	} else {
		err = r.cmd.Start()
	}
	// The child holds the write ends now; the host keeps only the reads.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	r.stdout, r.stderr = outR, errR
	r.pid = r.cmd.Process.Pid
	go r.reap()
	return nil
}

// reap waits for the plugin's process, then kills what it left behind in
// its group and, after pipeGrace, stops reading the pipes.
func (r *groupRunner) reap() {
	err := r.cmd.Wait()
	_ = killGroup(r.pid)
	r.mu.Lock()
	r.waitErr = err
	r.mu.Unlock()
	close(r.exited)
	time.AfterFunc(pipeGrace, r.closePipes)
}

func (r *groupRunner) closePipes() {
	r.closeOnce.Do(func() {
		r.stdout.Close()
		r.stderr.Close()
	})
}

// Wait waits for the process to exit. go-plugin calls it once it has read
// stdout and stderr to their end.
func (r *groupRunner) Wait(context.Context) error {
	<-r.exited
	r.closePipes()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waitErr
}

// Kill kills the plugin's process group, or makes a Start still to come
// fail. It does not wait.
func (r *groupRunner) Kill(context.Context) error {
	r.mu.Lock()
	r.aborted = true
	pid := r.pid
	r.mu.Unlock()
	if pid == 0 {
		return nil
	}
	select {
	case <-r.exited:
		// reap killed the group already; the pid may be reused by now.
		return nil
	default:
	}
	return killGroup(pid)
}

// Stdout is the plugin's standard output, where go-plugin reads the handshake.
func (r *groupRunner) Stdout() io.ReadCloser { return r.stdout }

// Stderr is the plugin's standard error, its log.
func (r *groupRunner) Stderr() io.ReadCloser { return r.stderr }

// Name is the executable's path.
func (r *groupRunner) Name() string { return r.cmd.Path }

// ID is the pid, "" before the process started (go-plugin's Kill then does
// nothing).
func (r *groupRunner) ID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pid == 0 {
		return ""
	}
	return strconv.Itoa(r.pid)
}

// Pid is the process id, 0 before the process started.
func (r *groupRunner) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pid
}

// Diagnose says what usually makes a handshake fail.
func (r *groupRunner) Diagnose(context.Context) string {
	return "the plugin must be a herald plugin built for this platform that prints go-plugin's handshake line on stdout when started"
}

// PluginToHost returns the plugin's address as is: it runs on this host.
func (r *groupRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

// HostToPlugin returns the host's address as is.
func (r *groupRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
