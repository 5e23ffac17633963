package controller

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-mdm/sluice/policy"
	"github.com/sluice-mdm/sluice/protocol"
)

// Store costs on an embedded single-node server with file storage. Run
// with: go test -run '^$' -bench Store ./controller/

func BenchmarkStoreAppendDecision(b *testing.B) {
	s, _, _ := newTestStore(b)
	ctx := testCtx(b)
	e := testDecision("", "pos-1", "com.example.pos")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e.DecisionID = fmt.Sprintf("bench-%d", i)
		e.Device = fmt.Sprintf("pos-%d", i%1000)
		if _, err := s.AppendDecision(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStorePutDeviceCAS(b *testing.B) {
	s, _, _ := newTestStore(b)
	ctx := testCtx(b)
	const devices = 1000
	revs := make([]uint64, devices)
	dev := DeviceRecord{Device: policy.Device{Platform: protocol.PlatformAndroid, Labels: map[string]string{"store": "berlin-01"}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("pos-%d", i%devices)
		dev.Device.ID = ""
		rec, err := s.Devices().Put(ctx, id, dev, revs[i%devices], "bench")
		if err != nil {
			b.Fatal(err)
		}
		revs[i%devices] = rec.Revision
	}
}

func BenchmarkStoreList1000Devices(b *testing.B) {
	s, _, _ := newTestStore(b)
	ctx := testCtx(b)
	dev := DeviceRecord{Device: policy.Device{Platform: protocol.PlatformAndroid}}
	for i := range 1000 {
		dev.Device.ID = ""
		if _, err := s.Devices().Put(ctx, fmt.Sprintf("pos-%d", i), dev, CreateOnly, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		list, err := s.Devices().List(context.Background())
		if err != nil || len(list) != 1000 {
			b.Fatalf("list: %d records, %v", len(list), err)
		}
	}
}
