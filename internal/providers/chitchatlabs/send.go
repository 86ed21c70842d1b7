package chitchatlabs

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/sdk"
)

// The API paths under base_url.
const (
	singlePath = "/chat-service/apis/message/single"
	blastPath  = "/chat-service/apis/message/blast"
)

// mobilePattern is a number with country code, digits only, as
// ChitChatLabs' examples write it (919739978284).
const mobilePattern = `^[0-9]{7,15}$`

// noIdempotency is appended to the action descriptions.
const noIdempotency = " ChitChatLabs documents no idempotency key and no way to look a message up, so the action has no reconcile handler: " +
	"a send in doubt (the answer was lost after the request was sent, or the host died mid-call) stops its run, which needs attention until an operator " +
	"settles it with `herald runs resolve --as sent|unsent` (on_in_doubt = \"retry\" sends again instead, accepting a possible duplicate)."

// templateFields are the inputs both actions share: which approved
// WhatsApp template to send, how to fill it, and what to attach.
func templateFields() []sdk.Field {
	return []sdk.Field{
		sdk.String("fb_template", "Name of the message template in WhatsApp Manager, such as habit_run_confirmation_message.").AsRequired(),
		sdk.String("language", "Language code of the template, such as en.").AsRequired(),
		sdk.Array("params", "Values of the template's parameters, in order.", sdk.String("", "")),
		sdk.Object("file", "Media to include in the message.",
			sdk.String("type", "Kind of media.").AsRequired().OneOf("image", "video", "document"),
			sdk.String("link", "URL of the file.").AsRequired().Matching(`^https?://`),
		),
		sdk.String("tag", "Free-form tag to filter sent messages by in the ChitChatLabs Messages tab."),
	}
}

var outputSchema = sdk.Fields(
	sdk.Integer("status_code", "HTTP status of ChitChatLabs' answer (any 2xx)."),
	sdk.Any("response", "ChitChatLabs' answer: the parsed JSON when it is JSON, else its text. Its shape is not documented."),
)

func (p *provider) sendSingleAction() sdk.Action {
	fields := append([]sdk.Field{
		sdk.Object("to", "The recipient; they need not be a contact.",
			sdk.String("mobile", "Phone number with country code, digits only, such as 919739978284.").AsRequired().Matching(mobilePattern),
			sdk.String("name", "Recipient's name."),
		).AsRequired(),
	}, templateFields()...)
	return sdk.Action{
		Name:        "send_single",
		Description: "Sends a template message to one number: POST {base_url}" + singlePath + ". override.body may set any field of the request." + noIdempotency,
		Input:       sdk.Fields(fields...),
		Output:      outputSchema,
		// WhatsApp's pair rate limit: one message every 6 seconds from a
		// business number to the same user.
		RecipientLimit: &sdk.RecipientLimit{Rate: "1/6s", Field: "to.mobile", Source: pairRateSource},
		Run:            p.sendSingle,
	}
}

func (p *provider) sendBlastAction() sdk.Action {
	fields := append([]sdk.Field{
		sdk.Map("search_spec", "Contact fields selecting the recipients, such as {\"name\": \"Partha\"}; sent as searchSpec. It must not be empty: an empty search would message every contact.").AsRequired(),
	}, templateFields()...)
	return sdk.Action{
		Name: "send_blast",
		Description: "Sends a template message to the contacts search_spec selects: POST {base_url}" + blastPath + ". " +
			"params may hold ChitChatLabs placeholders such as {{name}}, filled per contact by ChitChatLabs (write them in a workflow as {{ '{{name}}' }}); they are sent untouched. " +
			"override.body may set any field of the request." + noIdempotency,
		Input:  sdk.Fields(fields...),
		Output: outputSchema,
		Run:    p.sendBlast,
	}
}

// template is the part of a request both endpoints share; the input keys
// and the body keys are the same.
type template struct {
	FBTemplate string   `json:"fb_template"`
	Language   string   `json:"language"`
	File       *file    `json:"file,omitempty"`
	Params     []string `json:"params,omitzero"`
	Tag        string   `json:"tag,omitempty"`
}

type file struct {
	Type string `json:"type"`
	Link string `json:"link"`
}

type recipient struct {
	Mobile string `json:"mobile"`
	Name   string `json:"name,omitempty"`
}

// singleRequest is both the send_single input and the /message/single body.
type singleRequest struct {
	To recipient `json:"to"`
	template
}

type blastInput struct {
	SearchSpec map[string]any `json:"search_spec"`
	template
}

// blastRequest is the /message/blast body.
type blastRequest struct {
	SearchSpec map[string]any `json:"searchSpec"`
	template
}

func (p *provider) sendSingle(ctx context.Context, call *sdk.Call) (any, error) {
	var in singleRequest
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	return p.send(ctx, call, singlePath, in)
}

func (p *provider) sendBlast(ctx context.Context, call *sdk.Call) (any, error) {
	var in blastInput
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	if len(in.SearchSpec) == 0 {
		return nil, sdk.InvalidInput("search_spec", "must select contacts with at least one field; an empty search would message every contact")
	}
	return p.send(ctx, call, blastPath, blastRequest(in))
}

// output is the output of both actions.
type output struct {
	StatusCode int `json:"status_code"`
	Response   any `json:"response"`
}

// send posts body to path. ChitChatLabs documents no response shape, so any
// 2xx is success and its body is passed on as it came.
func (p *provider) send(ctx context.Context, call *sdk.Call, path string, body any) (any, error) {
	base := strings.TrimRight(call.Config.String("base_url"), "/")
	resp, err := p.http.Do(ctx, call, sdk.Request{
		Method:    http.MethodPost,
		URL:       base + path,
		Header:    http.Header{http.CanonicalHeaderKey(APIKeyHeader): {call.Config.String("api_key")}},
		Body:      body,
		MergeBody: true,
	})
	if err != nil || resp.DryRun {
		return nil, err
	}
	return output{StatusCode: resp.StatusCode, Response: decodeBody(resp.Body)}, nil
}

// decodeBody returns body parsed when it is JSON, else its text.
func decodeBody(body []byte) any {
	if json.Valid(body) {
		var v any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			return v
		}
	}
	return string(body)
}
