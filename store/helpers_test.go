package store

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/igdirect/bridge/internal/keys"
)

// testStore creates a fresh database on the PostgreSQL server of E2E_DATABASE_URL (or the
// one TestMain started) and opens a migrated store on it with ring.
func testStore(t *testing.T, ring *keys.Ring) (*Store, string) {
	t.Helper()
	admin := os.Getenv("E2E_DATABASE_URL")
	if admin == "" {
		t.Skip("store tests need a PostgreSQL server: set E2E_DATABASE_URL or install PostgreSQL (" + noPostgres + ")")
	}
	db, err := sqlx.Open("postgres", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("store_test_%d", time.Now().UnixNano()%1e12)
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := OpenMigrated(ctx, u.String(), ring, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		if db, err := sqlx.Open("postgres", admin); err == nil {
			_, _ = db.Exec(`DROP DATABASE IF EXISTS ` + name)
			db.Close()
		}
	})
	return st, u.String()
}

func ring(t *testing.T, current byte, old ...byte) *keys.Ring {
	t.Helper()
	k := func(b byte) []byte {
		out := make([]byte, keys.Size)
		for i := range out {
			out[i] = b
		}
		return out
	}
	var olds [][]byte
	for _, o := range old {
		olds = append(olds, k(o))
	}
	r, err := keys.NewRing(k(current), olds...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
