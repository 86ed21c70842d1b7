package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/host"
)

// TestExampleProjectDryRun validates the example project in workflows/ and
// dry-runs every workflow in it: each step renders the exact requests its
// plugin would send, the sandbox credentials appear only as ***, and nothing
// is sent.
func TestExampleProjectDryRun(t *testing.T) {
	t.Parallel()
	bin := buildHerald(t)
	dir, err := filepath.Abs("../../workflows")
	require.NoError(t, err)
	secretsFile := filepath.Join(dir, "sandbox.env")
	secrets, err := host.LoadSecrets(secretsFile)
	require.NoError(t, err)
	env := append(os.Environ(), "HERALD_PLUGIN_PATH=")
	store := "sqlite://" + filepath.Join(t.TempDir(), "herald.db")

	out, err := herald(bin, env, "validate", "--dir", dir, "--secrets-file", secretsFile)
	require.NoError(t, err, out)
	require.Contains(t, out, "is valid: 6 workflow(s), 3 provider instance(s)")

	input := `{"name":"Jane","email":"jane@example.com","phone":"+14155550188","customer_id":"crm-1",` +
		`"severity":"critical","summary":"DB down","service":"db","recipients":[{"phone":"14155550001","name":"Ann"}]}`
	actions := map[string]bool{}
	for _, wf := range []string{"oncall-digest", "alert-fanout", "support-ticket", "support-autoreply", "chatapi-instances"} {
		out, err := herald(bin, env, "run", wf, "--dir", dir, "--secrets-file", secretsFile, "--store", store, "--dry-run", "--input", input)
		require.NoError(t, err, "%s:\n%s", wf, out)
		for _, v := range secrets.Values() {
			if len(v) >= 4 {
				require.NotContains(t, out, v, "%s leaks a secret", wf)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "POST ") || strings.HasPrefix(line, "GET ") {
				actions[strings.Fields(line)[1][strings.Index(strings.Fields(line)[1], "8090")+4:]] = true
			}
		}
		if wf != "support-autoreply" { // its when needs a Chatwoot event
			require.Contains(t, out, "Dry run: these requests would be sent (nothing was sent):", wf)
		}
	}
	// Every action family of the three providers is exercised.
	var paths []string
	for p := range actions {
		paths = append(paths, p)
	}
	joined := strings.Join(paths, "\n")
	for _, want := range []string{
		"/chatapi/instance229607/sendMessage?token=***", "/chatapi/instance229607/sendFile?token=***",
		"/chatapi/instance229607/status?token=***", "/chatapi/newInstance?", "/chatapi/listInstances?", "/chatapi/deleteInstance?",
		"/chitchatlabs/chat-service/apis/message/single", "/chitchatlabs/chat-service/apis/message/blast",
		"/chatwoot/api/v1/accounts/1/contacts", "/chatwoot/api/v1/accounts/1/conversations", "/chatwoot/api/v1/accounts/1/contacts/search?q=",
	} {
		require.Contains(t, joined, want)
	}
}
