// Command herald-testhost is a minimal plugin host for tests of what happens
// to plugins when their host dies: it launches the echo plugin found in the
// directory given as its argument, prints the plugin's pid on stdout and
// blocks until killed.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/heraldhq/herald/internal/pluginhost"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: herald-testhost PLUGIN_DIR")
		os.Exit(2)
	}
	host := pluginhost.New(pluginhost.Options{Paths: []string{os.Args[1]}})
	if _, err := host.Client(context.Background(), "echo"); err != nil {
		fmt.Fprintln(os.Stderr, "herald-testhost:", err)
		os.Exit(1)
	}
	fmt.Println(host.Pid("echo"))
	select {}
}
