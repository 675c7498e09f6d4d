// Package blobfs keeps the sealed content of blob blocks in files (it
// implements blob.Data): one file per block, named by the block's ID in
// hexadecimal, under 256 directories named by the ID's first byte
// (DIR/3f/3fa9...). Files are written once and never changed, so a
// reader never sees a partial write of a block the Store refers to.
//
// Durability: Commit syncs the file, then its directory (for the new name),
// so a block is on disk before the Store can refer to it. Removing is not
// synced: a file that comes back after a crash is garbage, which
// blob.Service.Sweep removes. While a large block is written, the kernel is
// asked to start writing what has been written so far (on Linux), so that
// the sync at the end waits for little more than the last few megabytes.
package blobfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
)

var _ blob.Data = (*Dir)(nil)

// Dir is a directory of block files.
type Dir struct {
	path string
	// NoSync skips syncing files on Commit, for tests and benchmarks that
	// do not need durability.
	NoSync bool
}

// Open opens the directory at path, creating it and its 256
// subdirectories if needed.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("blobfs: %w", err)
	}
	created := false
	for i := range 256 {
		sub := filepath.Join(path, fmt.Sprintf("%02x", i))
		if _, err := os.Stat(sub); err == nil {
			continue
		}
		if err := os.Mkdir(sub, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("blobfs: %w", err)
		}
		created = true
	}
	if created {
		if err := syncDir(path); err != nil {
			return nil, fmt.Errorf("blobfs: %w", err)
		}
	}
	return &Dir{path: path}, nil
}

func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (d *Dir) file(id blob.BlockID) string {
	s := id.String()
	return filepath.Join(d.path, s[:2], s)
}

// Create creates the file of a new block.
func (d *Dir) Create(id blob.BlockID) (blob.DataWriter, error) {
	f, err := os.OpenFile(d.file(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("blobfs: create block: %w", err)
	}
	return &writer{f: f, d: d}, nil
}

// writebackEvery is how many bytes a writer writes between asking the
// kernel to start writing them back.
const writebackEvery = 8 << 20

type writer struct {
	f *os.File
	d *Dir
	// written is the file's size so far; flushed is where the last
	// writeback started.
	written, flushed int64
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if !w.d.NoSync && w.written-w.flushed >= writebackEvery {
		startWriteback(w.f, w.flushed, w.written-w.flushed)
		w.flushed = w.written
	}
	return n, err
}

// Commit syncs the file and its directory, and closes the file.
func (w *writer) Commit() error {
	var err error
	if !w.d.NoSync {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !w.d.NoSync {
		err = syncDir(filepath.Dir(w.f.Name()))
	}
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("blobfs: commit block: %w", err)
	}
	return nil
}

func (w *writer) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// Open opens a block's file.
func (d *Dir) Open(id blob.BlockID) (blob.DataReader, error) {
	f, err := os.Open(d.file(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &tresor.Error{Kind: tresor.NotFound, Reason: blob.ReasonBlobNotFound,
			Message: "The specified blob does not exist.", Err: fmt.Errorf("block %s is gone", id)}
	}
	if err != nil {
		return nil, fmt.Errorf("blobfs: %w", err)
	}
	return f, nil
}

// Remove removes the files of blocks.
func (d *Dir) Remove(ids ...blob.BlockID) error {
	var errs []error
	for _, id := range ids {
		if err := os.Remove(d.file(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("blobfs: remove %d of %d blocks: %w", len(errs), len(ids), errors.Join(errs...))
	}
	return nil
}

// Walk calls fn for every block file, with its modification time. Files
// whose names are not block IDs are skipped.
func (d *Dir) Walk(fn func(id blob.BlockID, modified time.Time) error) error {
	for i := range 256 {
		sub := filepath.Join(d.path, fmt.Sprintf("%02x", i))
		entries, err := os.ReadDir(sub)
		if err != nil {
			return fmt.Errorf("blobfs: %w", err)
		}
		for _, e := range entries {
			id, ok := blob.ParseBlockID(e.Name())
			if !ok || !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed meanwhile
			}
			if err != nil {
				return fmt.Errorf("blobfs: %w", err)
			}
			if err := fn(id, info.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}
