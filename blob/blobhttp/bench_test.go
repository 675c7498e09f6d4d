package blobhttp

import (
	"bytes"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// The benchmarks run the unmodified azblob client against the server on
// loopback, with block files synced as in production. With -azurite they
// run against an Azurite instead, for comparison, such as one started with
// "azurite-blob --skipApiVersionCheck --blobPort 10000".
var azurite = flag.String("azurite", "", "run the benchmarks against the Azurite blob endpoint at this URL (http://127.0.0.1:10000/devstoreaccount1)")

// azuriteKey is the well-known key of Azurite's devstoreaccount1.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

func benchServer(b *testing.B) *azblob.Client {
	var c *azblob.Client
	if *azurite != "" {
		cred, err := azblob.NewSharedKeyCredential("devstoreaccount1", azuriteKey)
		if err != nil {
			b.Fatal(err)
		}
		if c, err = azblob.NewClientWithSharedKeyCredential(*azurite, cred, options()); err != nil {
			b.Fatal(err)
		}
		c.DeleteContainer(ctx, "bench", nil)
		time.Sleep(time.Second) // Azurite deletes containers in the background
		b.Cleanup(func() { c.DeleteContainer(ctx, "bench", nil) })
	} else {
		s := newServer(b)
		s.Data.NoSync = false
		c = s.client(b)
	}
	mustCreate(b, c, "bench")
	return c
}

// BenchmarkLarge uploads and downloads one 64 MiB blob: with UploadBuffer
// (one Put Blob), with UploadStream (4 MiB Put Blocks, 4 at a time), and
// DownloadBuffer (4 MiB ranges, 4 at a time).
func BenchmarkLarge(b *testing.B) {
	const size = 64 << 20
	data := content(1, size)
	c := benchServer(b)
	b.Run("UploadBuffer", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := c.UploadBuffer(ctx, "bench", "buffer", data, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UploadStream", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := c.UploadStream(ctx, "bench", "stream", bytes.NewReader(data), &azblob.UploadStreamOptions{BlockSize: 4 << 20, Concurrency: 4}); err != nil {
				b.Fatal(err)
			}
		}
	})
	buf := make([]byte, size)
	b.Run("DownloadBuffer", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := c.DownloadBuffer(ctx, "bench", "buffer", buf, &azblob.DownloadBufferOptions{Concurrency: 4}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if !bytes.Equal(buf, data) {
		b.Fatal("downloaded content differs")
	}
}

// BenchmarkSmall uploads and downloads 1,000 blobs of 1 KiB, 16 at a time.
func BenchmarkSmall(b *testing.B) {
	const n, workers = 1000, 16
	data := content(2, 1024)
	c := benchServer(b)
	each := func(b *testing.B, fn func(i int) error) {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range next {
					if err := fn(i); err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	}
	upload := func(i int) error {
		_, err := c.UploadBuffer(ctx, "bench", fmt.Sprintf("small/%04d", i), data, nil)
		return err
	}
	each(b, upload) // for Download, whether Upload runs or not
	b.Run("Upload", func(b *testing.B) {
		b.SetBytes(n * 1024)
		for b.Loop() {
			each(b, upload)
		}
	})
	b.Run("Download", func(b *testing.B) {
		b.SetBytes(n * 1024)
		for b.Loop() {
			each(b, func(i int) error {
				buf := make([]byte, 1024)
				_, err := c.DownloadBuffer(ctx, "bench", fmt.Sprintf("small/%04d", i), buf, nil)
				if err == nil && !bytes.Equal(buf, data) {
					err = fmt.Errorf("blob %d differs", i)
				}
				return err
			})
		}
	})
}
