// Command tresor is a self-hosted, Azure-compatible platform for
// customer-managed keys. See 'tresor help'.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tresorkms/tresor/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
