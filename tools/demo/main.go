// Command demo builds Herald and its bundled plugins into ./bin and runs the
// example project in ./workflows against the local provider sandbox, on the
// embedded SQLite store: the cron workflow fires every 30 seconds, the alert
// webhook can be called with curl, and the requests the sandbox receives are
// printed as they arrive.
//
//	go run ./tools/demo              # until Ctrl-C
//	go run ./tools/demo -for 45s     # stop by itself (CI)
//	go run ./tools/demo -build-only  # just build ./bin
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The demo's fixed addresses; workflows/providers.hcl points at the sandbox's.
const (
	sandboxAddr = "127.0.0.1:8090"
	heraldAddr  = "127.0.0.1:8080"
)

func main() {
	buildOnly := flag.Bool("build-only", false, "build ./bin and exit")
	runFor := flag.Duration("for", 0, "stop after this long (0: until interrupted)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	if err := run(ctx, *buildOnly); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, buildOnly bool) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run it from the repository root: go run ./tools/demo")
	}
	step("Building herald and the bundled plugins into ./bin")
	for _, b := range [][2]string{
		{"bin/herald", "./cmd/host"},
		{"bin/herald-provider-chatapi", "./plugins/chatapi"},
		{"bin/herald-provider-chitchatlabs", "./plugins/chitchatlabs"},
		{"bin/herald-provider-chatwoot", "./plugins/chatwoot"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b[0], b[1])
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b[1], err)
		}
	}
	if buildOnly {
		fmt.Println("Built: bin/herald, bin/herald-provider-{chatapi,chitchatlabs,chatwoot}")
		return nil
	}
	herald, _ := filepath.Abs("bin/herald")
	logDir, err := os.MkdirTemp("", "herald-demo-")
	if err != nil {
		return err
	}
	step("Starting the provider sandbox on http://" + sandboxAddr)
	sandbox, err := start(ctx, filepath.Join(logDir, "sandbox.log"), herald, "sandbox", "--listen", sandboxAddr,
		// The fakes post delivery receipts back to Herald, as the real
		// providers would: sent, delivered, read, 2 s apart.
		"--receipts-to", "chatapi=http://"+heraldAddr+"/providers/chatapi/webhook",
		"--receipts-to", "chatwoot=http://"+heraldAddr+"/providers/support/webhook",
		"--receipt-delay", "2s")
	if err != nil {
		return err
	}
	defer stopProcess(sandbox)
	if err := waitHTTP(ctx, "http://"+sandboxAddr+"/_sandbox/requests"); err != nil {
		return fmt.Errorf("sandbox did not start (see %s): %w", filepath.Join(logDir, "sandbox.log"), err)
	}
	step("Starting herald serve on http://" + heraldAddr + " (project ./workflows, store ./workflows/.herald/herald.db)")
	serveLog := filepath.Join(logDir, "serve.log")
	server, err := start(ctx, serveLog, herald, "serve", "--dir", "workflows", "--secrets-file", "workflows/sandbox.env", "--listen", heraldAddr,
		"--public-url", "http://"+heraldAddr)
	if err != nil {
		return err
	}
	defer stopProcess(server)
	if err := waitHTTP(ctx, "http://"+heraldAddr+"/readyz"); err != nil {
		return fmt.Errorf("herald serve did not become ready (see %s): %w", serveLog, err)
	}
	fmt.Printf(`
Herald is running. Logs: %[1]s

  * The cron workflow "oncall-digest" fires every 30 seconds.
  * Call the alert webhook yourself:

      curl -X POST http://%[2]s/hooks/alert \
        -d '{"severity":"critical","summary":"DB down","service":"db","recipients":[{"phone":"14155550101","name":"Ann"}]}'

  * Page on-call and escalate unless the page is read or acknowledged within
    2 minutes (the sandbox's read receipt comes after ~6 s):

      curl -X POST http://%[2]s/hooks/escalation -d '{"summary":"db-1 disk full"}'

    To see the escalation, turn the sandbox's Chat API receipts off first,
    then page with a short wait (ack_timeout, 2m by default):

      curl -X POST http://%[3]s/_sandbox/receipts -d '{"provider":"chatapi","webhook_url":""}'
      curl -X POST http://%[2]s/hooks/escalation -d '{"summary":"db-1 disk full","ack_timeout":"20s"}'

  * See what the sandbox received:  curl http://%[3]s/_sandbox/requests
  * See the runs:                   curl http://%[4]s/api/v1/runs
  * Open the console:               http://%[5]s/ui/

Sending one alert now, then printing every request the sandbox receives (Ctrl-C stops):
`, serveLog, heraldAddr, sandboxAddr, heraldAddr, heraldAddr)
	body := `{"severity":"critical","summary":"Demo alert","service":"db","recipients":[{"phone":"14155550101","name":"Ann"},{"phone":"14155550102","name":"Bob"}]}`
	resp, err := http.Post("http://"+heraldAddr+"/hooks/alert", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("POST /hooks/alert -> %d %s\n", resp.StatusCode, strings.TrimSpace(string(out)))
	return follow(ctx)
}

// follow prints the sandbox's new requests until ctx ends.
func follow(ctx context.Context) error {
	seen := 0
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Printf("\nStopping. The sandbox received %d requests.\n", seen)
			return nil
		case <-t.C:
		}
		resp, err := http.Get("http://" + sandboxAddr + "/_sandbox/requests")
		if err != nil {
			continue
		}
		var list struct {
			Requests []struct {
				Provider string          `json:"provider"`
				Method   string          `json:"method"`
				Path     string          `json:"path"`
				Status   int             `json:"status"`
				Body     json.RawMessage `json:"body"`
				Time     time.Time       `json:"time"`
			} `json:"requests"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			continue
		}
		for _, r := range list.Requests[min(seen, len(list.Requests)):] {
			b := string(r.Body)
			if len(b) > 120 {
				b = b[:120] + "…"
			}
			fmt.Printf("%s  sandbox <- %-12s %s %s -> %d  %s\n", r.Time.Local().Format("15:04:05"), r.Provider, r.Method, r.Path, r.Status, b)
		}
		seen = len(list.Requests)
	}
}

func step(msg string) { fmt.Println("==> " + msg) }

func start(ctx context.Context, logPath, name string, args ...string) (*exec.Cmd, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
	}
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s answered %d", url, resp.StatusCode)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
