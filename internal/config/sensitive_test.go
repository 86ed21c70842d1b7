package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSensitiveEntriesAreCheckedAtTheirLine(t *testing.T) {
	t.Parallel()
	hcl := hclProviders + `
workflow "w" {
  trigger "webhook" {
    path      = "in"
    sensitive = ["X-Ok", "bdy.password", "", "headers.Bad Name",
                 "body.a..b", "query.", 7]
  }
  step "a" {
    uses = "chatapi.status"
  }
}`
	_, diags := LoadSources([]Source{{Name: "p.hcl", Data: []byte(hcl)}}, testOptions())
	const in = `sensitive in the webhook trigger of workflow "w": `
	require.Equal(t, []string{
		`p.hcl:8:26: ` + in + `"bdy.password": unknown part "bdy"; use headers.<name>, query.<name>, body.<path> or a header name`,
		`p.hcl:8:42: ` + in + `an entry is empty; use headers.<name>, query.<name>, body.<path> or a header name`,
		`p.hcl:8:46: ` + in + `"headers.Bad Name": "Bad Name" is not a header name`,
		`p.hcl:9:18: ` + in + `"body.a..b" has an empty segment in its body path`,
		`p.hcl:9:31: ` + in + `"query." names no query parameter`,
		`p.hcl:9:41: ` + in + `an entry must be a string, not a number`,
	}, messages("", diags))

	yaml := `
providers:
  chatapi: {config: {instance_id: "1", token: "{{ secrets.CHATAPI_TOKEN }}"}}
workflows:
  w:
    triggers:
      - type: webhook
        path: in
        sensitive: X-Api-Key
    steps:
      - {id: a, uses: chatapi.status}
`
	_, diags = LoadSources([]Source{{Name: "p.yaml", Data: []byte(yaml)}}, testOptions())
	require.Equal(t, []string{
		`p.yaml:9:20: sensitive in the webhook trigger of workflow "w" must be a list of strings, not a string`,
	}, messages("", diags))
}

func TestMaskRequest(t *testing.T) {
	t.Parallel()
	tr := &Trigger{Type: TriggerWebhook}
	for _, s := range []string{"X-Pager-*", "query.pin", "body.auth.password", "body.users.*.pin", "body.list.1"} {
		f, err := parseSensitive(s)
		require.NoError(t, err, s)
		tr.sensitive = append(tr.sensitive, f)
	}
	headers := map[string]string{
		"authorization":       "Bearer t",
		"x-api-key":           "k",
		"x-gitlab-token":      "g",
		"x-hub-signature-256": "sha256=ab",
		"x-pager-auth":        "p",
		"content-type":        "application/json",
		"x-request-id":        "r1",
	}
	query := map[string]string{"access_token": "a", "PIN": "1234", "page": "2"}
	body := map[string]any{
		"auth":  map[string]any{"password": "pw", "user": "ann"},
		"users": []any{map[string]any{"pin": "1", "name": "a"}, map[string]any{"pin": 2}},
		"list":  []any{"a", "b", "c"},
		"text":  "hello",
	}
	got := tr.MaskRequest(headers, query, body)
	require.Equal(t, map[string]string{
		"authorization":       "***",
		"x-api-key":           "***",
		"x-gitlab-token":      "***",
		"x-hub-signature-256": "***",
		"x-pager-auth":        "***",
		"content-type":        "application/json",
		"x-request-id":        "r1",
	}, headers)
	require.Equal(t, map[string]string{"access_token": "***", "PIN": "***", "page": "2"}, query)
	require.Equal(t, map[string]any{
		"auth":  map[string]any{"password": "***", "user": "ann"},
		"users": []any{map[string]any{"pin": "***", "name": "a"}, map[string]any{"pin": "***"}},
		"list":  []any{"a", "***", "c"},
		"text":  "hello",
	}, got)

	whole, err := parseSensitive("body")
	require.NoError(t, err)
	require.Equal(t, "***", (&Trigger{sensitive: []sensitiveField{whole}}).MaskRequest(nil, nil, "raw text"))
}

func TestGlob(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"x-*-token", "x-auth-token", true},
		{"x-*-token", "x--token", true},
		{"x-*-token", "x-token", false},
		{"*token*", "token", true},
		{"*token*", "x-tok", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*", "", true},
		{"**", "x", true},
		{"a**b", "ab", true},
		{"*ab*ab", "abab", true},
		{"*ab*ab", "aba", false},
		{"a*a", "a", false},
		{"", "", true},
		{"", "x", false},
	} {
		require.Equal(t, c.want, glob(c.pattern, c.name), "%s ~ %s", c.pattern, c.name)
	}
}

// TestMaskRequestAllocatesNothingToMatch checks that matching a request's
// header and query names against the sensitive patterns allocates nothing:
// it runs for every name of every webhook request.
func TestMaskRequestAllocatesNothingToMatch(t *testing.T) {
	f, err := parseSensitive("headers.x-*-sig*")
	require.NoError(t, err)
	trig := &Trigger{sensitive: []sensitiveField{f}}
	headers := map[string]string{"content-type": "application/json", "user-agent": "Go-http-client/1.1", "accept-encoding": "gzip", "content-length": "42"}
	query := map[string]string{"page": "2"}
	allocs := testing.AllocsPerRun(100, func() { trig.MaskRequest(headers, query, nil) })
	require.Zero(t, allocs)
}
