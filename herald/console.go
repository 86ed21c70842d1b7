package herald

import (
	"context"
	"fmt"
	"net/http"

	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/sdk"
)

// ConsoleOptions configure the operator console ConsoleHandler returns.
type ConsoleOptions struct {
	// ReadOnly shows every page and offers no action: no form is shown
	// and every action is refused, like `herald serve --ui readonly`.
	ReadOnly bool
}

// ConsoleHandler returns Herald's operator console, the pages `herald
// serve` serves at /ui/, to mount on the embedder's server under prefix
// (such as "/ops/herald"; the handler expects the prefix in the request
// path, so do not strip it):
//
//	mux.Handle("/ops/herald/", h.ConsoleHandler("/ops/herald", herald.ConsoleOptions{}))
//
// Pages: the workflows with their triggers, next fires and a form to start
// a manual run; the runs, filtered and paged; one run's timeline of steps
// and attempts; the schedule; the plugins. Runs are masked as the API masks
// them. With Options.APIToken set, the console asks for it once and keeps a
// session cookie; without one it answers loopback clients only. Every
// action is a POST carrying a CSRF token. Actions take effect while Serve
// runs, like the API's.
func (h *Herald) ConsoleHandler(prefix string, opts ConsoleOptions) http.Handler {
	c, err := console.New(runtime{h}, console.Options{
		Prefix:   prefix,
		Token:    h.apiToken,
		ReadOnly: opts.ReadOnly,
		Masker:   func() *sdk.Masker { return h.engine().Masker() },
		Logger:   h.logger.Named("console"),
	})
	if err != nil {
		// The templates are embedded and tested: this is a bug.
		panic(fmt.Sprintf("herald: console: %v", err))
	}
	return c
}

// The operations (retry, cancel, resolve, signal) and Subscribe of
// runtime are the HTTP API's (handler.go); Plugins is the console's own.
var _ console.Backend = runtime{}

func (r runtime) Plugins(ctx context.Context) []console.PluginInfo { return r.h.srv.Plugins(ctx) }
