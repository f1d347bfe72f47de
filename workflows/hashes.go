package workflows

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
)

// Hashes is a bounded set of 64-bit hashes of keys that forgets its oldest first. It
// serialises as base64 of the packed hashes in insertion order: 1,000 keys take 11 KB,
// whatever the keys' length (Meta's mids are about 140 bytes). At 64 bits a collision
// among the few thousand keys of a conversation has a probability around 10⁻¹².
type Hashes struct {
	keys  []uint64
	index map[uint64]bool // rebuilt lazily; never iterated
}

// Limits of the Hashes sets.
const (
	// seenLimit: Meta redelivers for about an hour; a conversation rarely takes in a
	// thousand events in that time.
	seenLimit = 1000
	// ourMIDsLimit: our sends whose echo may still arrive (ingress drops most echoes of our
	// sends itself; these cover the race with the send's answer).
	ourMIDsLimit = 200
	// unsentLimit: unsends waiting for their message.
	unsentLimit = 100
)

func hashKey(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// Has reports whether key was added and not yet forgotten.
func (r *Hashes) Has(key string) bool {
	r.build()
	return r.index[hashKey(key)]
}

// Add inserts key, keeping at most limit keys; it returns false if key was present.
func (r *Hashes) Add(key string, limit int) bool {
	r.build()
	h := hashKey(key)
	if r.index[h] {
		return false
	}
	r.keys = append(r.keys, h)
	r.index[h] = true
	if len(r.keys) > limit {
		drop := len(r.keys) - limit
		for _, k := range r.keys[:drop] {
			delete(r.index, k)
		}
		r.keys = append([]uint64(nil), r.keys[drop:]...)
	}
	return true
}

// Merge adds the hashes of older (an earlier run's memory) before r's own, within limit.
func (r *Hashes) Merge(older Hashes, limit int) {
	in := map[uint64]bool{} // membership only; never iterated
	var keys []uint64
	for _, k := range append(append([]uint64(nil), older.keys...), r.keys...) {
		if !in[k] {
			in[k] = true
			keys = append(keys, k)
		}
	}
	if len(keys) > limit {
		keys = keys[len(keys)-limit:]
	}
	r.keys, r.index = keys, nil
}

// Len is the number of keys kept.
func (r *Hashes) Len() int { return len(r.keys) }

func (r *Hashes) build() {
	if r.index != nil {
		return
	}
	r.index = make(map[uint64]bool, len(r.keys))
	for _, k := range r.keys {
		r.index[k] = true
	}
}

// MarshalJSON packs the hashes (little-endian, 8 bytes each) in base64.
func (r Hashes) MarshalJSON() ([]byte, error) {
	b := make([]byte, 8*len(r.keys))
	for i, k := range r.keys {
		binary.LittleEndian.PutUint64(b[8*i:], k)
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *Hashes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	r.keys, r.index = make([]uint64, len(b)/8), nil
	for i := range r.keys {
		r.keys[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return nil
}
