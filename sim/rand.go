package sim

import (
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// rng is a deterministic random source for one purpose of one seed. Decisions about a
// thing with a stable identity (a message, a delivery) take a source of their own keyed
// by it (decide), so that removing an unrelated action while shrinking a failing schedule
// leaves them as they were.
type rng struct{ *rand.Rand }

func newRNG(seed uint64, purpose string) *rng {
	return &rng{rand.New(rand.NewPCG(seed, hash64(purpose)))}
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// chance is true with probability p.
func (r *rng) chance(p float64) bool { return p > 0 && r.Float64() < p }

// between is a duration in [a, b).
func (r *rng) between(a, b time.Duration) time.Duration {
	if b <= a {
		return a
	}
	return a + time.Duration(r.Int64N(int64(b-a)))
}

// pick is an index in [0, n).
func (r *rng) pick(n int) int {
	if n <= 1 {
		return 0
	}
	return r.IntN(n)
}

// Read fills p (an io.Reader for the emulators' ids).
func (r *rng) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return len(p), nil
}
