package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/sqlite"
)

// auditCommand reads the audit log straight from the data directory:
// 'tresor audit verify' checks its chain, 'tresor audit tail' prints its
// newest records. It needs read access to the database and the root key,
// and no running server.
type auditCommand struct {
	out io.Writer
}

func (c *auditCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "verify":
		return c.verify(ctx, args[1:])
	case "tail":
		return c.tail(ctx, args[1:])
	}
	return errUsage
}

func (c *auditCommand) verify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	data := dataFlag(fs)
	headFlag := fs.String("head", "", "a head printed by an earlier verify, as SEQ:MACHEX; the log must still reach it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var opts audit.VerifyOptions
	if *headFlag != "" {
		h, err := audit.ParseHead(*headFlag)
		if err != nil {
			return err
		}
		opts.ExpectHead = &h
	}
	root, err := readRoot(*data)
	if err != nil {
		return err
	}
	db, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := audit.Verify(ctx, db, root, opts)
	if err != nil && rep.OK() {
		return err // the database failed, not the chain
	}
	fmt.Fprintf(c.out, "records verified: %d\n", rep.Records)
	fmt.Fprintf(c.out, "head: %d:%s\n", rep.Head, rep.HeadMAC)
	if !rep.OK() {
		fmt.Fprintf(c.out, "TAMPERED at record %d: %s\n", rep.FirstBad, rep.Problem)
		return err
	}
	if opts.ExpectHead != nil {
		fmt.Fprintf(c.out, "expected head %d found\n", opts.ExpectHead.Seq)
	}
	fmt.Fprintln(c.out, "OK; keep the head outside this machine to detect records deleted from the end later")
	return nil
}

func (c *auditCommand) tail(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("audit tail", flag.ContinueOnError)
	data := dataFlag(fs)
	n := fs.Int("n", 20, "the number of records to print")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("audit tail: -n must be at least 1")
	}
	db, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	last, err := db.Last(ctx)
	if tresor.IsKind(err, tresor.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	recs, err := db.Records(ctx, max(0, last.Seq-int64(*n)), *n)
	if err != nil {
		return err
	}
	for _, r := range recs {
		fmt.Fprintf(c.out, "%s %d %s/%d %s/%s %s %s %s %s\n",
			r.Time.Format(time.RFC3339Nano), r.Seq, dash(r.Result), r.Status,
			dash(r.Principal.ObjectID), dash(r.Principal.AppID), dash(r.Operation),
			dash(r.ResourceID), dash(r.KeyVersion), dash(r.RequestID))
	}
	return nil
}

// dash stands in for an empty field, so that every line has the same
// number of words.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// readRoot reads the root key from the data directory without creating one.
func readRoot(dir string) ([]byte, error) {
	path := filepath.Join(dir, "root.key")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read root key: %w", err)
	}
	if len(b) != audit.RootKeySize {
		return nil, fmt.Errorf("audit: root key %s is %d bytes, want %d", path, len(b), audit.RootKeySize)
	}
	return b, nil
}

// openData opens the database of the data directory, which must exist:
// sqlite.Open would otherwise create an empty one.
func openData(ctx context.Context, dir string) (*sqlite.DB, error) {
	path := filepath.Join(dir, "tresor.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("audit: no database at %s; is --data the server's data directory?", path)
	}
	return sqlite.Open(ctx, path)
}
