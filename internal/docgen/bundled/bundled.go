// Package bundled lists the provider plugins that ship with Herald, for the
// generators and tests that document them without launching their binaries.
//
// It links the providers into whatever imports it, so only the docs
// generator and tests may: the herald binary reaches providers as plugins.
package bundled

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/internal/providers/chatapi"
	"github.com/heraldhq/herald/internal/providers/chatwoot"
	"github.com/heraldhq/herald/internal/providers/chitchatlabs"
	"github.com/heraldhq/herald/sdk"
)

// Providers returns the bundled providers, in the order the docs list them.
func Providers() []sdk.Provider {
	return []sdk.Provider{chatapi.New(), chitchatlabs.New(), chatwoot.New()}
}

// Specs returns the bundled providers' declarations as the host sees them
// through the plugin protocol, with the capabilities the SDK derives from
// the interfaces each provider implements.
func Specs() ([]*sdk.Spec, error) {
	var out []*sdk.Spec
	for _, p := range Providers() {
		spec, err := sdk.NewServer(p, nil).Describe(context.Background())
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", p.Spec().Type, err)
		}
		out = append(out, spec)
	}
	return out, nil
}
