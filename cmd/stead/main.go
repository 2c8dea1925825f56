// Command stead is the Stead CLI, worker and dev server in one binary.
package main

import (
	"context"
	"os"

	"github.com/stead-io/stead/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args, os.Stdout, os.Stderr))
}
