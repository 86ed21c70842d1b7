package chatapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/heraldhq/herald/sdk"
)

func (p *provider) statusAction() sdk.Action {
	return sdk.Action{
		Name:        "status",
		Description: "Reads the instance's WhatsApp account status: GET {api_url}/instance{instance_id}/status. While the instance waits to be linked to a phone the output carries the QR code to scan.",
		Input:       sdk.Fields(),
		Output: sdk.Fields(
			sdk.String("account_status", "Chat API's accountStatus: authenticated, got qr code, loading, init or not_paid."),
			sdk.String("qr_code", "With account_status \"got qr code\": the QR code to scan in WhatsApp, as a base64 data URI."),
		),
		Run: p.status,
	}
}

// statusOutput is the output of the status action.
type statusOutput struct {
	AccountStatus string `json:"account_status"`
	QRCode        string `json:"qr_code,omitempty"`
}

func (p *provider) status(ctx context.Context, call *sdk.Call) (any, error) {
	endpoint, query, err := instanceEndpoint(call, "status")
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(ctx, call, sdk.Request{Method: http.MethodGet, URL: endpoint, Query: query})
	if err != nil || resp.DryRun {
		return nil, err
	}
	var out struct {
		Error         any    `json:"error"`
		AccountStatus string `json:"accountStatus"`
		QRCode        string `json:"qrCode"`
	}
	if err := decodeAnswer(resp, resp.Body, &out, &out.Error); err != nil {
		return nil, err
	}
	if out.AccountStatus == "" {
		return nil, failure(resp, errors.New("chat api answered status without an accountStatus"))
	}
	return statusOutput{AccountStatus: out.AccountStatus, QRCode: out.QRCode}, nil
}
