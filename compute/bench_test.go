package compute_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tresorkms/tresor/compute"
)

// BenchmarkDESRotation rotates the key of a DES that protects 10,000 disks
// and 10,000 snapshots, on SQLite, and reports the key-service calls per
// rotation (keyops/op), which stay 3 (unwrap, check, wrap) however many
// artifacts there are. Creating the 20,000 artifacts before the timer
// starts takes a while. Run it with
//
//	go test -run '^$' -bench DESRotation -benchtime 5x ./compute
func BenchmarkDESRotation(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprint(n, " disks + ", n, " snapshots"), func(b *testing.B) {
			f := newFixture(b)
			f.withContent()
			ctx := context.Background()
			des := f.newDES(b, "des1", "")
			for i := range n {
				d, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", fmt.Sprint("d", i), f.emptyDisk("", des.ID()))
				if err != nil {
					b.Fatal(err)
				}
				snap := compute.DiskSpec{Location: "westeurope", CreateOption: "Copy", SourceResourceID: d.ID()}
				if _, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindSnapshot, f.sub, "rg", fmt.Sprint("s", i), snap); err != nil {
					b.Fatal(err)
				}
			}
			f.keys.take()
			ops, version := 0, 1
			for b.Loop() {
				version++
				d, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{ActiveKey: f.key("k", fmt.Sprint("v", version))})
				if err != nil || d.ProvisioningState != "Succeeded" {
					b.Fatalf("rotate = %s, %v", d.ProvisioningState, err)
				}
				for _, c := range f.keys.take() {
					ops += c
				}
			}
			b.ReportMetric(float64(ops)/float64(b.N), "keyops/op")
			vs, err := f.svc.KeyVersions(ctx, f.sub, "rg", "des1")
			if err != nil || len(vs) != 2*n {
				b.Fatalf("key versions = %d, %v", len(vs), err)
			}
			for _, v := range vs {
				if v.KeyID != f.vault+"/keys/k/v"+fmt.Sprint(version) {
					b.Fatalf("%s on %s after the last rotation", v.ResourceID, v.KeyID)
				}
			}
		})
	}
}
