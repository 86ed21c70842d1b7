// Package tracing tests Herald's traces as an operator receives them: a
// real `herald serve` configured by OTEL_* environment variables exports
// them over OTLP to a receiver on loopback, while a webhook runs a step
// through a real plugin binary.
package tracing

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/testbin"
)

// The project's secrets: no exported byte may hold one.
var secrets = map[string]string{
	"CHATAPI_TOKEN": "otlp-chatapi-T0KEN-9f8e7d",
	"HOOK_SECRET":   "otlp-hook-S3CRET-1a2b3c",
}

// receiver collects OTLP trace export requests, whatever transport brought
// them, keeping the raw protobuf bytes too.
type receiver struct {
	mu   sync.Mutex
	raw  [][]byte
	reqs []*collectorpb.ExportTraceServiceRequest
}

func (r *receiver) add(raw []byte) error {
	req := &collectorpb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(raw, req); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raw = append(r.raw, raw)
	r.reqs = append(r.reqs, req)
	return nil
}

// ServeHTTP is the OTLP/HTTP endpoint: POST /v1/traces with a protobuf body.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces with application/x-protobuf", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err == nil {
		err = r.add(body)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// grpcReceiver is the OTLP/gRPC endpoint.
type grpcReceiver struct {
	collectorpb.UnimplementedTraceServiceServer
	r *receiver
}

func (g grpcReceiver) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	raw, err := proto.Marshal(req)
	if err == nil {
		err = g.r.add(raw)
	}
	return &collectorpb.ExportTraceServiceResponse{}, err
}

// span is an exported span with its service's name.
type span struct {
	*tracepb.Span
	service string
}

func (r *receiver) spans() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []span
	for _, req := range r.reqs {
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, span{Span: s, service: service})
				}
			}
		}
	}
	return out
}

func (r *receiver) allRaw() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Join(r.raw, nil)
}

func named(spans []span, name string) []span {
	var out []span
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if v, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return fmt.Sprint(v.IntValue)
			}
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// TestServeExportsTracesOverOTLP starts `herald serve` with OTEL_* settings
// for each OTLP protocol, posts a signed webhook carrying a traceparent, and
// checks what the receiver got: one trace continuing the caller's, from the
// webhook's server span through the run and its attempt to the plugin call,
// whose span is the parent named by the traceparent the provider received
// from the plugin process; and no secret in any exported byte.
func TestServeExportsTracesOverOTLP(t *testing.T) {
	bins := testbin.Build(t, "github.com/heraldhq/herald/cmd/host", "github.com/heraldhq/herald/plugins/chatapi")
	require.NoError(t, os.Rename(filepath.Join(bins, "host"), filepath.Join(bins, "herald")))
	require.NoError(t, os.Rename(filepath.Join(bins, "chatapi"), filepath.Join(bins, "herald-provider-chatapi")))
	// Off: without OTEL_* settings nothing is traced and no traceparent is
	// read or passed on.
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		checkTrace(t, bins, nil, nil)
	})
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(strings.ReplaceAll(protocol, "/", "-"), func(t *testing.T) {
			t.Parallel()
			rec := &receiver{}
			var endpoint string
			if protocol == "grpc" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				gs := grpc.NewServer()
				collectorpb.RegisterTraceServiceServer(gs, grpcReceiver{r: rec})
				go func() { _ = gs.Serve(ln) }()
				t.Cleanup(gs.Stop)
				endpoint = "http://" + ln.Addr().String()
			} else {
				srv := httptest.NewServer(rec)
				t.Cleanup(srv.Close)
				endpoint = srv.URL
			}
			checkTrace(t, bins, rec, []string{
				"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL=" + protocol,
				"OTEL_SERVICE_NAME=herald-e2e",
				"OTEL_BSP_SCHEDULE_DELAY=100",
			})
		})
	}
}

func checkTrace(t *testing.T, bins string, rec *receiver, otelEnv []string) {
	var (
		mu      sync.Mutex
		parents []string
	)
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("traceparent"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"sent":true,"id":"true_1@c.us_A","message":"ok"}`)
	}))
	t.Cleanup(provider.Close)
	dir := t.TempDir()
	project := fmt.Sprintf(`
provider "chatapi" {
  config = { instance_id = "229607", token = "{{ secrets.CHATAPI_TOKEN }}", api_url = %q }
}
workflow "page" {
  trigger "webhook" {
    path   = "page"
    secret = "{{ secrets.HOOK_SECRET }}"
  }
  step "notify" {
    uses = "chatapi.send_message"
    with = { phone = "14155550123", body = "token {{ secrets.CHATAPI_TOKEN }} for {{ trigger.body.who }}" }
  }
}
`, provider.URL)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "page.hcl"), []byte(project), 0o644))

	env := append(os.Environ(), "HERALD_PLUGIN_PATH="+bins)
	for k, v := range secrets {
		env = append(env, "HERALD_SECRET_"+k+"="+v)
	}
	cmd := exec.Command(filepath.Join(bins, "herald"), "serve", "--dir", dir, "--listen", "127.0.0.1:0")
	cmd.Env = append(env, otelEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "herald serve: listening on "); ok {
				addr <- a
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var base string
	select {
	case base = <-addr:
	case err := <-exited:
		t.Fatalf("herald serve exited before it listened (%v):\n%s", err, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("herald serve did not listen:\n%s", stderr.String())
	}

	// The caller's trace: the webhook continues it.
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	body := []byte(`{"who":"ada"}`)
	req, err := http.NewRequest(http.MethodPost, base+"/hooks/page", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(httpapi.SignatureHeader, httpapi.Sign(secrets["HOOK_SECRET"], body))
	req.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var accepted struct {
		RunIDs []string `json:"run_ids"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&accepted))
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Len(t, accepted.RunIDs, 1)
	runID := accepted.RunIDs[0]

	var run struct {
		Status  string `json:"status"`
		Trigger struct {
			TraceContext map[string]string `json:"trace_context"`
		} `json:"trigger"`
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/api/v1/runs/" + runID)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&run) == nil && run.Status == "succeeded"
	}, 2*time.Minute, 50*time.Millisecond, "run %s did not succeed:\n%s", runID, stderr.String())

	// SIGTERM: serve exits 0 and flushes its spans on the way out.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("herald serve did not stop:\n%s", stderr.String())
	}

	mu.Lock()
	got := append([]string(nil), parents...)
	mu.Unlock()
	if rec == nil {
		require.Equal(t, []string{""}, got, "tracing off passes no traceparent on")
		require.Nil(t, run.Trigger.TraceContext)
		return
	}
	spans := rec.spans()
	server := named(spans, "POST /hooks/{path...}")
	runs := named(spans, "run page")
	attempts := named(spans, "attempt notify")
	calls := named(spans, "invoke chatapi.send_message")
	require.Len(t, server, 1, "spans: %v", spans)
	require.Len(t, runs, 1)
	require.Len(t, attempts, 1)
	require.Len(t, calls, 1)
	for _, s := range []span{server[0], runs[0], attempts[0], calls[0]} {
		require.Equal(t, callerTrace, hex.EncodeToString(s.TraceId), "span %s", s.Name)
		require.Equal(t, "herald-e2e", s.service)
	}
	require.Equal(t, callerSpan, hex.EncodeToString(server[0].ParentSpanId))
	require.Equal(t, tracepb.Span_SPAN_KIND_SERVER, server[0].Kind)
	require.Equal(t, hex.EncodeToString(server[0].SpanId), hex.EncodeToString(runs[0].ParentSpanId))
	require.Equal(t, hex.EncodeToString(runs[0].SpanId), hex.EncodeToString(attempts[0].ParentSpanId))
	require.Equal(t, hex.EncodeToString(attempts[0].SpanId), hex.EncodeToString(calls[0].ParentSpanId))
	require.Equal(t, runID, attr(runs[0], "herald.run.id"))
	require.Equal(t, "page", attr(runs[0], "herald.workflow"))
	require.Equal(t, "succeeded", attr(runs[0], "herald.status"))
	require.Equal(t, "succeeded", attr(attempts[0], "herald.outcome"))

	require.Equal(t, "00-"+callerTrace+"-"+hex.EncodeToString(server[0].SpanId)+"-01", run.Trigger.TraceContext["traceparent"],
		"the run stores its request's span context")
	require.Equal(t, []string{"00-" + callerTrace + "-" + hex.EncodeToString(calls[0].SpanId) + "-01"}, got,
		"the provider request continues the plugin call's span")

	raw := rec.allRaw()
	require.NotEmpty(t, raw)
	for name, v := range secrets {
		require.NotContains(t, string(raw), v, "secret %s was exported", name)
	}
}
