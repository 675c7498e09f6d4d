package software

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/tresorkms/tresor/hsm"
)

// BenchmarkKey measures the in-process ceiling of the hot operations, to
// compare with the HTTPS server's numbers: wrap (encrypt) and unwrap
// (decrypt) of a 32-byte content key, serially and from GOMAXPROCS
// goroutines, plus sign and the cached Key lookup. Each reports ops/s.
//
//	go test -run '^$' -bench 'Key/RSA2048/unwrap' -benchtime 1s ./hsm/software
func BenchmarkKey(b *testing.B) {
	m := newModule(b)
	ctx := context.Background()
	tests := []struct {
		name string
		spec hsm.Spec
		wrap hsm.Algorithm
		sign hsm.Algorithm
	}{
		{"RSA2048", hsm.Spec{Type: hsm.RSA, Size: 2048}, hsm.RSAOAEP256, hsm.PS256},
		{"RSA3072", hsm.Spec{Type: hsm.RSA, Size: 3072}, hsm.RSAOAEP256, hsm.PS256},
		{"P256", hsm.Spec{Type: hsm.EC, Curve: hsm.P256}, "", hsm.ES256},
		{"P256K", hsm.Spec{Type: hsm.EC, Curve: hsm.P256K}, "", hsm.ES256K},
		{"AES256", hsm.Spec{Type: hsm.Oct, Size: 256}, hsm.A256KW, hsm.HS256},
		{"AES256GCM", hsm.Spec{Type: hsm.Oct, Size: 256}, hsm.A256GCM, ""},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			h, _, err := m.Generate(ctx, tt.spec, []byte("bench"))
			if err != nil {
				b.Fatal(err)
			}
			k, err := m.Key(ctx, h, []byte("bench"))
			if err != nil {
				b.Fatal(err)
			}
			b.Run("open", func(b *testing.B) {
				both(b, func() error { _, err := m.Key(ctx, h, []byte("bench")); return err })
			})
			if tt.wrap != "" {
				cek := make([]byte, 32)
				w, err := k.Encrypt(tt.wrap, cek, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.Run("wrap", func(b *testing.B) {
					both(b, func() error { _, err := k.Encrypt(tt.wrap, cek, nil, nil); return err })
				})
				b.Run("unwrap", func(b *testing.B) {
					both(b, func() error { _, err := k.Decrypt(tt.wrap, w.Ciphertext, w.IV, nil, w.Tag); return err })
				})
			}
			if tt.sign != "" {
				d := sha256.Sum256([]byte("bench"))
				b.Run("sign", func(b *testing.B) {
					both(b, func() error { _, err := k.Sign(nil, tt.sign, d[:]); return err })
				})
			}
		})
	}
}

// both runs op serially and under b.RunParallel, reporting ops/s.
func both(b *testing.B, op func() error) {
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}
