package chitchatlabs

import (
	"testing"

	"github.com/heraldhq/herald/internal/providers/chitchatlabs/fake"
	"github.com/heraldhq/herald/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.Conformance(t, New(), sdktest.Options{
		Config: fake.ProviderConfig,
		Fake:   fake.New(),
		Inputs: map[string]map[string]any{
			"send_single": {
				"to": map[string]any{"mobile": "919739978284", "name": "Partha"}, "fb_template": "habit_run_confirmation_message",
				"language": "en", "params": []any{"Partha", "Habit Run November Edition", "24th Nov"}, "tag": "test_tag",
			},
			"send_blast": {
				"search_spec": map[string]any{"name": "Partha"}, "fb_template": "habit_run_confirmation_message", "language": "en",
				"file":   map[string]any{"type": "image", "link": "https://chitchatlabs.github.io/image-service/CCLABS_TENANT/test.png"},
				"params": []any{"{{name}}", "Habit Run November Edition", "24th Nov"},
			},
		},
	})
}
