package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var windowHCLCases = []diagCase{
	{name: "window mistakes", files: hclMain(`workflow "w" {
  step "a" {
    uses = "chatapi.status"
    window {
      days     = "MON-FRY"
      hours    = "8-21"
      timezone = "Europe/Berlln"
      outside  = "later"
    }
  }
  step "b" {
    wait { duration = "1m" }
    window {
      hours    = "08:00-21:00"
      timezone = "UTC"
    }
  }
  step "c" {
    uses = "chatapi.status"
    window { timezone = "UTC" }
  }
  step "d" {
    uses = "chatapi.status"
    window { hours = "08:00-21:00" }
  }
  step "e" {
    uses = "chatapi.status"
    window {
      hours    = "08:00-21:00"
      timezone = "{{ item.tz }}"
    }
  }
}
`),
		want: []string{
			"main.hcl:8:18: the window of step \"a\" of workflow \"w\": days \"MON-FRY\": unknown day \"FRY\": use MON, TUE, WED, THU, FRI, SAT, SUN, ranges such as MON-FRI, or *",
			"main.hcl:9:18: the window of step \"a\" of workflow \"w\": hours \"8-21\": \"8\" is not a time of day HH:MM",
			"main.hcl:10:18: timezone in the window of step \"a\" of workflow \"w\": unknown timezone \"Europe/Berlln\": use an IANA name such as Europe/Berlin",
			"main.hcl:11:18: outside in the window of step \"a\" of workflow \"w\" must be delay or skip, not \"later\"",
			"main.hcl:16:5: window in step \"b\" of workflow \"w\": a wait step calls no action, so it takes no window",
			"main.hcl:23:5: the window of step \"c\" of workflow \"w\" needs days or hours (or both), as in days = \"MON-FRI\", hours = \"08:00-21:00\"",
			"main.hcl:27:5: the window of step \"d\" of workflow \"w\" is missing timezone",
			"main.hcl:33:18: timezone: \"{{ item.tz }}\": item is only in scope in the with and override of a step with for_each",
		},
	},
}

var windowYAMLCases = []diagCase{
	{name: "window mistakes", files: yamlMain(`  w:
    steps:
      - id: a
        uses: chatapi.status
        window:
          days: MON-FRY
          hours: "8-21"
          timezone: Europe/Berlln
          outside: later
`),
		want: []string{
			"main.yaml:10:17: the window of step \"a\" of workflow \"w\": days \"MON-FRY\": unknown day \"FRY\": use MON, TUE, WED, THU, FRI, SAT, SUN, ranges such as MON-FRI, or *",
			"main.yaml:11:18: the window of step \"a\" of workflow \"w\": hours \"8-21\": \"8\" is not a time of day HH:MM",
			"main.yaml:12:21: timezone in the window of step \"a\" of workflow \"w\": unknown timezone \"Europe/Berlln\": use an IANA name such as Europe/Berlin",
			"main.yaml:13:20: outside in the window of step \"a\" of workflow \"w\" must be delay or skip, not \"later\"",
		},
	},
}

func TestWindowDiagnosticsHCL(t *testing.T)  { runDiagCases(t, windowHCLCases) }
func TestWindowDiagnosticsYAML(t *testing.T) { runDiagCases(t, windowYAMLCases) }

// TestWindowModel checks what the golden JSON leaves out: the parsed window
// and the literal zone.
func TestWindowModel(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"full.hcl", "full.yaml"} {
		p, diags := LoadSources([]Source{{Name: name, Data: fixture(t, name)}}, testOptions())
		require.False(t, diags.HasErrors(), diags.Error())
		reply, ok := p.Workflows["support-echo"].Step("reply")
		require.True(t, ok)
		w := reply.Window
		require.NotNil(t, w)
		require.Equal(t, WindowSkip, w.Outside)
		require.Equal(t, "Europe/Berlin", w.Location.String())
		at := time.Date(2026, 3, 2, 23, 0, 0, 0, w.Location)
		require.True(t, w.Parsed.Contains(at, w.Location), "22:00-06:00 is overnight")
		require.False(t, w.Parsed.Contains(at.Add(8*time.Hour), w.Location))
	}
}
