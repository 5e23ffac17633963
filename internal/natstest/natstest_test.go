package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStartServesJetStream(t *testing.T) {
	_, url := Start(t)
	nc := Connect(t, url)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "probe"})
	if err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("put: %v", err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff("v", string(e.Value())); diff != "" {
		t.Errorf("value (-want +got):\n%s", diff)
	}
}

func TestStartAtKeepsDataAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	s1, url1 := StartAt(t, dir)
	nc1 := Connect(t, url1)
	js1, err := jetstream.New(nc1)
	if err != nil {
		t.Fatal(err)
	}
	kv1, err := js1.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "probe", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	rev, err := kv1.Put(ctx, "k", []byte("kept"))
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	nc1.Close()
	s1.Shutdown()
	s1.WaitForShutdown()

	_, url2 := StartAt(t, dir)
	js2, err := jetstream.New(Connect(t, url2))
	if err != nil {
		t.Fatal(err)
	}
	kv2, err := js2.KeyValue(ctx, "probe")
	if err != nil {
		t.Fatalf("bucket after restart: %v", err)
	}
	e, err := kv2.Get(ctx, "k")
	if err != nil {
		t.Fatalf("get after restart: %v", err)
	}
	type got struct {
		Value    string
		Revision uint64
	}
	if diff := cmp.Diff(got{"kept", rev}, got{string(e.Value()), e.Revision()}); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
}
