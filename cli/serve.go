package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tresorkms/tresor/compute"
)

// serveCommand runs the server until its context ends.
type serveCommand struct{}

func (c *serveCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg := Config{}
	fs.StringVar(&cfg.DataDir, "data", "./tresor-data", "data directory (created on first start)")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8443", "listen address")
	fs.StringVar(&cfg.BlobAddr, "blob-addr", "127.0.0.1:10000", "listen address of the Blob API in path style (https://ADDR/{account}), as Azurite's; empty for host style only")
	fs.StringVar(&cfg.Domain, "domain", "localhost", "DNS domain: vaults are {name}.vault.{domain}")
	fs.StringVar(&cfg.Clock, "clock", ClockReal, "real, or virtual: time stands still until 'tresor clock advance' (for testing rotation)")
	fs.IntVar(&cfg.RotationBatch, "des-rotation-batch", 0, "how many disk and snapshot keys a disk encryption set's key rotation moves per transaction (0: 1000)")
	fs.DurationVar(&cfg.DESKeyCheckInterval, "des-key-check-interval", compute.DefaultKeyCheckInterval,
		"how often a disk encryption set with rotationToLatestKeyVersionEnabled looks for a newer key version, on the server's clock")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.DESKeyCheckInterval <= 0 {
		return fmt.Errorf("--des-key-check-interval %v: want a positive duration", cfg.DESKeyCheckInterval)
	}
	s, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	s.Logger.Info("tresor serving", "addr", s.Addr(), "domain", cfg.Domain, "data", cfg.DataDir, "clock", s.Clock.Now().Format(time.RFC3339),
		"env", filepath.Join(cfg.DataDir, "tresor.env"))
	return s.Serve(ctx)
}

// envCommand prints DIR/tresor.env, ready for eval.
type envCommand struct{ out io.Writer }

func (c *envCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	data := dataFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(*data, "tresor.env"))
	if err != nil {
		return fmt.Errorf("no environment yet: start the server once with 'tresor serve --data %s' (%w)", *data, err)
	}
	_, err = c.out.Write(b)
	return err
}
