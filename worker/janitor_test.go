package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type fakePurger struct {
	mu        sync.Mutex
	media     int
	intents   []time.Duration
	failMedia bool
}

func (f *fakePurger) PurgeExpiredMedia(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.media++
	if f.failMedia {
		return 0, errors.New("database down")
	}
	return 1, nil
}

func (f *fakePurger) PurgeIntents(_ context.Context, olderThan time.Duration) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intents = append(f.intents, olderThan)
	return 2, nil
}

// The janitor purges both tables at once and on every tick, and a failing purge does not
// stop the other.
func TestJanitorPurgesMediaAndIntents(t *testing.T) {
	f := &fakePurger{failMedia: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		janitor(ctx, f, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.intents)
		f.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not run three times")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.media < 3 {
		t.Fatalf("media purged %d times", f.media)
	}
	for _, d := range f.intents {
		if d != intentRetention {
			t.Fatalf("intents purged after %v, want %v", d, intentRetention)
		}
	}
}
