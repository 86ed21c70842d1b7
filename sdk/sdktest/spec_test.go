package sdktest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/sdk"
)

func TestSpecProblems(t *testing.T) {
	t.Parallel()
	good := func() *sdk.Spec {
		return &sdk.Spec{
			Type:    "chatapi",
			Version: "1.0.0",
			Config:  sdk.Fields(sdk.String("token", "").AsSensitive(), sdk.String("api_url", "").WithDefault("https://api.chat-api.com").Matching(`^https://`)),
			Actions: []sdk.Action{{
				Name: "send_message",
				Input: sdk.Schema{
					Fields:       []sdk.Field{sdk.String("phone", ""), sdk.String("chat_id", ""), sdk.Array("mentioned_phones", "", sdk.String("", "").Matching(`^[0-9]+$`))},
					ExactlyOneOf: [][]string{{"phone", "chat_id"}},
				},
				Output: sdk.Fields(sdk.Bool("sent", ""), sdk.Object("meta", "", sdk.Integer("n", "").WithDefault(3))),
			}},
			Events: []sdk.EventSpec{{Name: "chatapi.message"}, {Name: "chatapi.chat_update", Data: &sdk.Schema{}}},
		}
	}
	require.Empty(t, specProblems(good()))

	tests := []struct {
		name   string
		change func(s *sdk.Spec)
		want   []string
	}{
		{"no type or version", func(s *sdk.Spec) { s.Type, s.Version, s.Events = "", " ", nil }, []string{
			`type "" must be lowercase letters, digits and underscores, starting with a letter`, "version is empty",
		}},
		{"action name", func(s *sdk.Spec) { s.Actions[0].Name = "sendMessage" }, []string{`action "sendMessage": name must be snake_case`}},
		{"duplicate action", func(s *sdk.Spec) { s.Actions = append(s.Actions, s.Actions[0]) }, []string{`action "send_message": declared twice`}},
		{"bad limits", func(s *sdk.Spec) { s.Limits = &sdk.Limits{Rate: "80 a second"} }, []string{
			`limits: rate limit "80 a second" must be <count>/<unit>, such as 20/s or 100/m`,
		}},
		{"recipient limit without a key", func(s *sdk.Spec) { s.Actions[0].RecipientLimit = &sdk.RecipientLimit{Rate: "1/6s"} }, []string{
			`action "send_message" recipient limit: a recipient limit names the recipient by exactly one of field and expr`,
		}},
		{"recipient limit on an unknown field", func(s *sdk.Spec) { s.Actions[0].RecipientLimit = &sdk.RecipientLimit{Rate: "1/6s", Field: "to.mobile"} }, []string{
			`action "send_message" recipient limit: field "to.mobile" is not an input field`,
		}},
		{"duplicate field", func(s *sdk.Spec) { s.Config.Fields = append(s.Config.Fields, sdk.String("token", "")) }, []string{`config field "token": declared twice`}},
		{"unknown type", func(s *sdk.Spec) { s.Config.Fields[0].Type = "text" }, []string{
			`config field "token": type "text" is not one of string, integer, number, boolean, object, array, any, string_or_integer`,
		}},
		{"bad nested pattern", func(s *sdk.Spec) { s.Actions[0].Input.Fields[2].Items.Pattern = "[" }, []string{
			"action \"send_message\" input field \"mentioned_phones\" items: pattern does not compile: error parsing regexp: missing closing ]: `[`",
		}},
		{"exactly one of a missing field", func(s *sdk.Spec) { s.Actions[0].Input.ExactlyOneOf[0][1] = "chat" }, []string{
			`action "send_message" input: exactly_one_of names "chat", which is not a field`,
		}},
		{"default of the wrong type", func(s *sdk.Spec) { s.Config.Fields[1].Default = 5 }, []string{
			`config field "api_url": default 5 is invalid: must be a string, got integer`,
		}},
		{"default not matching", func(s *sdk.Spec) { s.Config.Fields[1].Default = "http://x" }, []string{
			`config field "api_url": default http://x is invalid: "http://x" does not match ^https://`,
		}},
		{"nested default", func(s *sdk.Spec) { s.Actions[0].Output.Fields[1].Fields[0].Default = "three" }, []string{
			`action "send_message" output field "meta" field "n": default three is invalid: must be an integer, got string`,
		}},
		{"bounds on a string", func(s *sdk.Spec) { s.Config.Fields = append(s.Config.Fields, sdk.String("n", "").AtLeast(1)) }, []string{
			`config field "n": minimum and maximum are never checked on a field of type string`,
		}},
		{"length on a boolean", func(s *sdk.Spec) { s.Config.Fields = append(s.Config.Fields, sdk.Bool("b", "").WithLength(1, 2)) }, []string{
			`config field "b": min_length and max_length are never checked on a field of type boolean`,
		}},
		{"pattern on a string or integer", func(s *sdk.Spec) {
			s.Config.Fields = append(s.Config.Fields, sdk.StringOrInteger("chat_id", "").Matching(`^@`).WithDefault(int64(-100)))
		}, nil},
		{"enum on an integer", func(s *sdk.Spec) { s.Config.Fields = append(s.Config.Fields, sdk.Integer("n", "").OneOf("1")) }, []string{
			`config field "n": enum is never checked on a field of type integer`,
		}},
		{"event prefix", func(s *sdk.Spec) { s.Events[0].Name = "chatwoot.message" }, []string{`event "chatwoot.message": name must be chatapi.<snake_case name>`}},
		{"event name", func(s *sdk.Spec) { s.Events[0].Name = "chatapi.Message" }, []string{`event "chatapi.Message": name must be chatapi.<snake_case name>`}},
		{"empty field name", func(s *sdk.Spec) { s.Config.Fields[0].Name = "" }, []string{`config field #0: name is empty`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := good()
			tc.change(s)
			require.Equal(t, tc.want, specProblems(s))
		})
	}
}
