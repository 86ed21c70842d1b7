package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/providers/chatapi"
	"github.com/heraldhq/herald/internal/providers/chatwoot"
	"github.com/heraldhq/herald/internal/providers/chitchatlabs"
	"github.com/heraldhq/herald/internal/sandbox"
	sandboxproviders "github.com/heraldhq/herald/internal/sandbox/providers"
	"github.com/heraldhq/herald/sdk"
)

// defaultSandboxListen is where `herald sandbox` listens, and where the
// example project in workflows/ expects it.
const defaultSandboxListen = "127.0.0.1:8090"

func (a *app) sandboxCommand() *cobra.Command {
	listen := defaultSandboxListen
	keep := 10000
	var (
		receiptsTo   []string
		receiptDelay = 500 * time.Millisecond
		receiptFinal = "read"
	)
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve local fakes of the Chat API, ChitChatLabs and Chatwoot APIs",
		Long: "Serve local fakes of the three bundled providers' APIs on one port, each\n" +
			"under its own prefix (/chatapi, /chitchatlabs, /chatwoot), with the same\n" +
			"endpoints, auth checks and response shapes as the real ones. Every request\n" +
			"is recorded (the newest --keep): GET /_sandbox/requests lists them. POST /_sandbox/faults\n" +
			"injects failures ({\"provider\":\"chatapi\",\"status\":429,\"retry_after\":1,\n" +
			"\"count\":2} or {\"latency_ms\":2000}); DELETE clears them.\n\n" +
			"With --receipts-to chatapi=URL (and/or chatwoot=URL), the fakes post delivery\n" +
			"receipts for every message they send to that Herald provider webhook URL, such as\n" +
			"http://127.0.0.1:8080/providers/chatapi/webhook: sent, delivered, read, each\n" +
			"--receipt-delay apart, stopping at --receipt-final. POST /_sandbox/receipts\n" +
			"{\"provider\":\"chatapi\",\"webhook_url\":URL,\"delay_ms\":200,\"final\":\"delivered\"}\n" +
			"changes the plan while it runs; GET lists the plans and the receipts posted.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
			base := "http://" + ln.Addr().String()
			sb := sandboxproviders.New()
			sb.Keep = keep
			for _, to := range receiptsTo {
				provider, url, ok := strings.Cut(to, "=")
				if !ok || (provider != "chatapi" && provider != "chatwoot") || url == "" {
					return &exitCodeError{code: exitUsage, err: fmt.Errorf("--receipts-to %q: want chatapi=URL or chatwoot=URL", to)}
				}
				plan := sandbox.ReceiptPlan{Provider: provider, WebhookURL: url, DelayMS: int(receiptDelay / time.Millisecond), Final: receiptFinal}
				if err := sb.SetReceiptPlan(plan); err != nil {
					return &exitCodeError{code: exitUsage, err: fmt.Errorf("--receipt-final: %w", err)}
				}
			}
			srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(a.stdout, "Sandbox listening on %s\n", base)
			fmt.Fprintf(a.stdout, "Recorded requests: curl %s/_sandbox/requests\n\n", base)
			fmt.Fprintf(a.stdout, "Provider config that points at it (save it in your project directory, e.g. sandbox.hcl):\n\n")
			secrets := printSandboxConfig(a.stdout, base)
			fmt.Fprintf(a.stdout, "\nThe secrets it reads (save them as sandbox.env and pass --secrets-file sandbox.env):\n\n")
			for _, s := range secrets {
				fmt.Fprintf(a.stdout, "%s=%s\n", s.name, s.value)
			}
			fmt.Fprintf(a.stdout, "\nPress Ctrl-C to stop.\n")
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", listen, "address to listen on")
	cmd.Flags().IntVar(&keep, "keep", keep, "how many recorded requests to keep, the newest (0: all)")
	cmd.Flags().StringArrayVar(&receiptsTo, "receipts-to", nil, "post delivery receipts of sent messages: chatapi=URL or chatwoot=URL of Herald's provider webhook (repeatable)")
	cmd.Flags().DurationVar(&receiptDelay, "receipt-delay", receiptDelay, "wait before each delivery receipt")
	cmd.Flags().StringVar(&receiptFinal, "receipt-final", receiptFinal, "last delivery status posted: sent, delivered, read, failed or none")
	return cmd
}

// sandboxSecretNames names the secret each sensitive config field of a
// bundled provider reads, as the example project in workflows/ does, so its
// sandbox.env and the printed one agree.
var sandboxSecretNames = map[string]string{
	"chatapi.token":             "CHATAPI_TOKEN",
	"chatapi.uid":               "CHATAPI_UID",
	"chatapi.webhook_token":     "CHATAPI_HOOK",
	"chitchatlabs.api_key":      "CCL_KEY",
	"chatwoot.api_access_token": "CW_TOKEN",
	"chatwoot.webhook_secret":   "CW_HOOK",
}

// sandboxSensitive reports the sensitive config fields of each bundled
// provider type, from its own schema.
func sandboxSensitive() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, p := range []sdk.Provider{chatapi.New(), chitchatlabs.New(), chatwoot.New()} {
		spec := p.Spec()
		out[spec.Type] = map[string]bool{}
		for _, f := range spec.Config.SensitiveFields() {
			out[spec.Type][f] = true
		}
	}
	return out
}

type sandboxSecret struct{ name, value string }

// printSandboxConfig prints an HCL provider block per bundled provider.
// Sensitive fields read secrets, as a project should; it returns their
// names and values, sorted by name.
func printSandboxConfig(w io.Writer, base string) []sandboxSecret {
	configs := sandboxproviders.ProviderConfigs(base)
	sensitive := sandboxSensitive()
	types := make([]string, 0, len(configs))
	for t := range configs {
		types = append(types, t)
	}
	sort.Strings(types)
	var secrets []sandboxSecret
	for _, t := range types {
		cfg := configs[t]
		keys := make([]string, 0, len(cfg))
		width := 0
		for k := range cfg {
			keys = append(keys, k)
			width = max(width, len(k))
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "provider %q {\n  config = {\n", t)
		for _, k := range keys {
			v := cfg[k]
			val := fmt.Sprint(v)
			if _, ok := v.(string); ok {
				val = fmt.Sprintf("%q", v)
			}
			if sensitive[t][k] {
				name := sandboxSecretNames[t+"."+k]
				if name == "" {
					name = strings.ToUpper(t + "_" + k)
				}
				secrets = append(secrets, sandboxSecret{name: name, value: fmt.Sprint(v)})
				val = fmt.Sprintf("%q", "{{ secrets."+name+" }}")
			}
			fmt.Fprintf(w, "    %s%s = %s\n", k, strings.Repeat(" ", width-len(k)), val)
		}
		fmt.Fprintf(w, "  }\n}\n")
	}
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].name < secrets[j].name })
	return secrets
}
