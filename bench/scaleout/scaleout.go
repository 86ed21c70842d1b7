// Package scaleout is the scale-out benchmark: the webhook → one-step
// workflow case on PostgreSQL with one `herald serve` replica, then with
// two sharing the store, each measured with the same closed loop as the
// floor program (package load) in the same run. bench's main calls Run; a
// gated test in this package runs it on its own.
package scaleout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/bench/load"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
)

// Config configures Run.
type Config struct {
	// Bin is a directory holding herald and herald-provider-chatapi, and
	// floor (bench/floor) to measure the floor in the same run.
	Bin string
	// DSN is a PostgreSQL DSN; Run works in a schema of its own, dropped
	// at the end.
	DSN string
	// Clients, Warmup and Duration are the load of each measurement, and
	// Rate, when positive, paces it (see load.Options).
	Clients          int
	Rate             float64
	Warmup, Duration time.Duration
	// Log receives the replicas' logs; nil discards them.
	Log io.Writer
}

// Run measures the floor (when Bin has it), one replica and two replicas,
// in that order, and returns their results.
func Run(ctx context.Context, cfg Config) ([]load.Result, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	sb := sandboxproviders.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: sb}
	go srv.Serve(ln)
	defer srv.Close()
	sbURL := "http://" + ln.Addr().String()
	opts := load.Options{Sandbox: sb, Clients: cfg.Clients, Rate: cfg.Rate, Warmup: cfg.Warmup, Duration: cfg.Duration}

	var results []load.Result
	if floorBin := filepath.Join(cfg.Bin, "floor"); exists(floorBin) {
		addr := freeAddr()
		floor := exec.Command(floorBin, "-listen", addr, "-target", sbURL+"/chatapi/instance229607/sendMessage?token=sandbox-token")
		floor.Stderr = cfg.Log
		if err := floor.Start(); err != nil {
			return nil, err
		}
		defer func() { _ = floor.Process.Kill(); _ = floor.Wait() }()
		if err := waitUp("http://"+addr+"/hooks/bench", http.MethodPost); err != nil {
			return nil, err
		}
		opts.Targets = []string{"http://" + addr + "/hooks/bench"}
		r, err := load.Run(ctx, "floor (direct POST)", opts)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}

	dsn, drop, err := schema(ctx, cfg.DSN)
	if err != nil {
		return nil, err
	}
	defer drop()
	proj, err := os.MkdirTemp("", "herald-bench-scaleout-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(proj)
	if err := os.WriteFile(filepath.Join(proj, "bench.hcl"), []byte(fmt.Sprintf(project, sbURL)), 0o644); err != nil {
		return nil, err
	}
	var replicas []string
	for n := 1; n <= 2; n++ {
		addr := freeAddr()
		cmd := exec.Command(filepath.Join(cfg.Bin, "herald"), "serve", "--dir", proj, "--listen", addr)
		cmd.Env = append(os.Environ(), "HERALD_STORE="+dsn, "HERALD_SECRET_TOKEN=sandbox-token",
			"HERALD_LOG_LEVEL=warn", "HERALD_PLUGIN_PATH=")
		cmd.Stdout, cmd.Stderr = cfg.Log, cfg.Log
		if err := cmd.Start(); err != nil {
			return results, err
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		if err := waitUp("http://"+addr+"/readyz", http.MethodGet); err != nil {
			return results, err
		}
		replicas = append(replicas, "http://"+addr+"/hooks/bench")
		opts.Targets = replicas
		r, err := load.Run(ctx, fmt.Sprintf("herald serve, postgres, %d replica(s)", n), opts)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// project is the benchmark's workflow; %s is the sandbox's URL.
const project = `provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.TOKEN }}", api_url = "%s/chatapi" }
}
workflow "bench" {
  trigger "webhook" {
    path = "bench"
  }
  step "send" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "{{ trigger.body.msg }}" }
  }
}
`

// schema creates a fresh schema and returns the DSN that selects it (with
// a pool of 20 connections per replica) and its removal.
func schema(ctx context.Context, dsn string) (string, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "herald_bench_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, err
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = c.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`)
			_ = c.Close(context.Background())
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		drop()
		return "", nil, errors.New("the postgres dsn must be a url")
	}
	q := u.Query()
	q.Set("search_path", name)
	q.Set("pool_max_conns", "20")
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitUp waits until url answers method with anything but a connection
// error, or, for GET, with 200.
func waitUp(u, method string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(method, u, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if method != http.MethodGet || resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up", u)
}
