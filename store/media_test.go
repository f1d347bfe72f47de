package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPurgeExpiredMedia(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	if err := st.PutMedia(ctx, Media{ID: "aaaaaa", ContentType: "image/png", Filename: "a.png", Data: []byte("x")}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMedia(ctx, Media{ID: "bbbbbb", ContentType: "image/png", Filename: "b.png", Data: []byte("y")}, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	n, err := st.PurgeExpiredMedia(ctx)
	if err != nil || n != 1 {
		t.Fatalf("purged %d: %v", n, err)
	}
	var left int
	if err := st.db.Get(&left, `SELECT count(*) FROM media`); err != nil || left != 1 {
		t.Fatalf("%d rows left: %v", left, err)
	}
	if _, err := st.GetMedia(ctx, "bbbbbb"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if m, err := st.GetMedia(ctx, "aaaaaa"); err != nil || string(m.Data) != "x" {
		t.Fatal(m, err)
	}
}
