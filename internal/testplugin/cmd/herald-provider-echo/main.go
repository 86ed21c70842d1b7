// Command herald-provider-echo is the Echo test provider as a plugin binary.
package main

import (
	"github.com/heraldhq/herald/internal/testplugin"
	"github.com/heraldhq/herald/sdk"
)

func main() { sdk.Serve(testplugin.New()) }
