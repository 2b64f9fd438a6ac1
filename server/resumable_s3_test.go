package server

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// TestResumableUploadReplicasS3: on two replicas sharing an S3 store
// (versitygw) and a PostgreSQL catalog, a resumable put through replica 0
// is interrupted after two parts (the client's context is cancelled); the
// put again through replica 1 finds the parts replica 0 kept in S3, sends
// the rest, and the blob reads back, verified, through either replica.
func TestResumableUploadReplicasS3(t *testing.T) {
	const part = 8 << 20
	f := newFleetTuned(t, 2, func(c *Config) { c.UploadPartSize, c.UploadQuotaTotal = part, -1 })
	k, _ := identity.Generate()
	data := make([]byte, 5*part+12345)
	rand.NewChaCha8([32]byte{7}).Read(data)

	c0 := f.client(0, k)
	c0.ResumeAbove = part
	ctx, cancel := context.WithCancel(context.Background())
	_, err := c0.Put(ctx, bytes.NewReader(data), int64(len(data)), client.PutOptions{Progress: func(n int64) {
		if n >= 2*part+part/2 {
			cancel() // mid third part
		}
	}})
	cancel()
	if err == nil {
		t.Fatal("the interrupted put succeeded")
	}
	c1 := f.client(1, k)
	c1.ResumeAbove = part
	var held int64 = -1
	var sent int64
	info, err := c1.Put(context.Background(), bytes.NewReader(data), int64(len(data)), client.PutOptions{
		Resumed:  func(h int64) { held = h },
		Progress: func(n int64) { sent = n },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed on the other replica with %d of %d bytes held", held, len(data))
	if held != 2*part || sent != int64(len(data)) || !info.Created {
		t.Fatalf("held %d (want %d), progress ended at %d, info %+v", held, 2*part, sent, info)
	}
	id := mustContentID(t, info.ID)
	for i := range 2 {
		var got bytes.Buffer
		if _, err := f.client(i, k).Stream(context.Background(), id, &got, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("replica %d serves other bytes", i)
		}
	}
}

func mustContentID(t *testing.T, s string) content.ID {
	t.Helper()
	id, err := content.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
