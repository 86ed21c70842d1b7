package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/sdk"
)

// version is the host version, set at build time with
// -ldflags "-X main.version=v1.2.3"; otherwise the module version from the
// build info, or "dev".
var version = ""

func hostVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of the host and of the plugin protocol",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprint(a.stdout, versionText())
			return nil
		},
	}
}

// versionText is what `herald version` and `herald --version` print.
func versionText() string {
	return fmt.Sprintf("herald %s (%s, %s/%s)\nplugin protocol %d\n", hostVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH, sdk.ProtocolVersion)
}
