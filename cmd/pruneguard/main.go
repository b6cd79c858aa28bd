// Command pruneguard keeps a live index of which workload references which container image,
// prunes images as soon as policy allows, and refuses new references to images being deleted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pruneguard/pruneguard/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
