package chatapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/heraldhq/herald/sdk"
)

// The account-level functions take their parameters in the query string,
// with the account key as uid, and are called with GET as Chat API's help
// page shows them (…/newInstance?uid=XXXXXXXXX&type=…).

func (p *provider) createInstanceAction() sdk.Action {
	return sdk.Action{
		Name: "create_instance",
		Description: "Creates an instance in the Chat API account (a billable resource): GET {management_url}/newInstance?uid=…&type=…. " +
			"The new instance's token is not part of the output, so it never lands in run history; read it in the Chat API account. " +
			"Not idempotent: a retry after an ambiguous failure may create a second instance.",
		Input: sdk.Fields(
			sdk.String("type", "Platform of the new instance, such as whatsapp or whatsapp_dev.").AsRequired().WithExample("whatsapp"),
		),
		Output: sdk.Fields(
			sdk.String("status", "Chat API's result status: created, or exists when the account already had such an instance."),
			sdk.String("instance_id", "Id of the instance.").WithExample("229607"),
			sdk.String("api_url", "Base URL of the instance's API, such as https://api.chat-api.com/instance229607/."),
		),
		Run: p.createInstance,
	}
}

func (p *provider) listInstancesAction() sdk.Action {
	return sdk.Action{
		Name:        "list_instances",
		Description: "Lists the instances of the Chat API account: GET {management_url}/listInstances?uid=….",
		Input:       sdk.Fields(),
		Output: sdk.Fields(
			sdk.Array("instances", "The account's instances.", sdk.Object("", "One instance.",
				sdk.String("instance_id", "Id of the instance."),
				sdk.String("name", "Name given to the instance in the account."),
				sdk.String("api_url", "Base URL of the instance's API."),
				sdk.String("type", "Platform of the instance, such as whatsapp."),
				sdk.Bool("stopped", "Whether the instance is stopped."),
				sdk.Integer("payments_count", "How many payments the instance has had."),
				sdk.Integer("paid_till", "End of the paid period, in Unix seconds."),
			)),
		),
		Run: p.listInstances,
	}
}

func (p *provider) deleteInstanceAction() sdk.Action {
	return sdk.Action{
		Name:        "delete_instance",
		Description: "Deletes an instance of the Chat API account: GET {management_url}/deleteInstance?uid=…&instanceId=…. The instance's WhatsApp session is lost.",
		Input: sdk.Fields(
			sdk.String("instance_id", "Id of the instance to delete.").AsRequired().Matching(instanceIDPattern).WithExample("229607"),
		),
		Output: sdk.Fields(
			sdk.String("instance_id", "Id of the deleted instance."),
			sdk.String("status", "Chat API's result, deleted."),
		),
		Run: p.deleteInstance,
	}
}

// management calls an account-level function with params added to the
// query and returns the "result" member of the answer, after turning the
// failures Chat API reports in 2xx answers into permanent errors.
func (p *provider) management(ctx context.Context, call *sdk.Call, function string, params map[string]string) (json.RawMessage, *sdk.Response, error) {
	endpoint, query, err := managementEndpoint(call, function)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range params {
		query.Set(k, v)
	}
	resp, err := p.http.Do(ctx, call, sdk.Request{Method: http.MethodGet, URL: endpoint, Query: query})
	if err != nil || resp.DryRun {
		return nil, resp, err
	}
	var out struct {
		Error  any             `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := decodeAnswer(resp, resp.Body, &out, &out.Error); err != nil {
		return nil, resp, err
	}
	if len(out.Result) == 0 || string(out.Result) == "null" {
		return nil, resp, failure(resp, fmt.Errorf("chat api answered %s without a result", function))
	}
	if err := reportedError(resp, out.Result); err != nil {
		return nil, resp, err
	}
	return out.Result, resp, nil
}

func (p *provider) createInstance(ctx context.Context, call *sdk.Call) (any, error) {
	var in struct {
		Type string `json:"type"`
	}
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	if in.Type == "" {
		return nil, sdk.InvalidInput("type", "must not be empty")
	}
	result, resp, err := p.management(ctx, call, "newInstance", map[string]string{"type": in.Type})
	if err != nil || resp.DryRun {
		return nil, err
	}
	var r struct {
		Status   string `json:"status"`
		Instance struct {
			ID     idString `json:"id"`
			APIURL string   `json:"apiUrl"`
		} `json:"instance"`
	}
	if err := decode(resp, result, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Status == "error":
		return nil, failure(resp, fmt.Errorf("chat api could not create the instance: %s", sdk.DefaultErrorMessage(result)))
	case r.Instance.ID == "":
		return nil, failure(resp, fmt.Errorf("chat api answered newInstance with status %q and no instance id", r.Status))
	}
	return map[string]any{"status": r.Status, "instance_id": string(r.Instance.ID), "api_url": r.Instance.APIURL}, nil
}

// instanceInfo is one element of list_instances' output.
type instanceInfo struct {
	InstanceID    string      `json:"instance_id"`
	Name          string      `json:"name"`
	APIURL        string      `json:"api_url"`
	Type          string      `json:"type"`
	Stopped       bool        `json:"stopped"`
	PaymentsCount json.Number `json:"payments_count"`
	PaidTill      json.Number `json:"paid_till"`
}

func (p *provider) listInstances(ctx context.Context, call *sdk.Call) (any, error) {
	result, resp, err := p.management(ctx, call, "listInstances", nil)
	if err != nil || resp.DryRun {
		return nil, err
	}
	var list []struct {
		ID            idString    `json:"id"`
		Name          string      `json:"name"`
		APIURL        string      `json:"apiUrl"`
		Type          string      `json:"type"`
		Stopped       bool        `json:"stopped"`
		PaymentsCount json.Number `json:"paymentsCount"`
		PaidTill      json.Number `json:"paidTill"`
	}
	if err := decode(resp, result, &list); err != nil {
		return nil, err
	}
	out := make([]instanceInfo, len(list))
	for i, in := range list {
		out[i] = instanceInfo{
			InstanceID:    string(in.ID),
			Name:          in.Name,
			APIURL:        in.APIURL,
			Type:          in.Type,
			Stopped:       in.Stopped,
			PaymentsCount: in.PaymentsCount,
			PaidTill:      in.PaidTill,
		}
	}
	return map[string]any{"instances": out}, nil
}

func (p *provider) deleteInstance(ctx context.Context, call *sdk.Call) (any, error) {
	var in struct {
		InstanceID string `json:"instance_id"`
	}
	if err := call.Bind(&in); err != nil {
		return nil, err
	}
	result, resp, err := p.management(ctx, call, "deleteInstance", map[string]string{"instanceId": in.InstanceID})
	if err != nil || resp.DryRun {
		return nil, err
	}
	var status string
	if json.Unmarshal(result, &status) != nil {
		return nil, failure(resp, fmt.Errorf("chat api could not delete instance %s: %s", in.InstanceID, sdk.DefaultErrorMessage(result)))
	}
	if status == "error" {
		return nil, failure(resp, fmt.Errorf("chat api could not delete instance %s", in.InstanceID))
	}
	return map[string]any{"instance_id": in.InstanceID, "status": status}, nil
}

// idString is an id Chat API sends as a JSON string or number.
type idString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *idString) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = idString(str)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("id is neither a string nor a number")
	}
	*s = idString(n.String())
	return nil
}
