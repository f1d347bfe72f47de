package rocketchat

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"strings"
	"time"
)

// field is one key of an ordered JSON object.
type field struct {
	k string
	v any
}

// obj is an ordered JSON object: Rocket.Chat serialises with JSON.stringify,
// which keeps insertion order, so the emulator does the same (it makes
// captured payloads read like the real ones; clients must not depend on it).
type obj []field

// set replaces the value of k, or appends k.
func (o obj) set(k string, v any) obj {
	for i := range o {
		if o[i].k == k {
			o[i].v = v
			return o
		}
	}
	return append(o, field{k, v})
}

// get returns the value of k.
func (o obj) get(k string) (any, bool) {
	for _, f := range o {
		if f.k == k {
			return f.v, true
		}
	}
	return nil, false
}

// del removes k.
func (o obj) del(k string) obj {
	out := o[:0:0]
	for _, f := range o {
		if f.k != k {
			out = append(out, f)
		}
	}
	return out
}

// MarshalJSON writes the fields in order, without HTML escaping (like JSON.stringify).
func (o obj) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := marshal(f.k)
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := marshal(f.v)
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshal encodes v as compact JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// mustMarshal is marshal for values that cannot fail.
func mustMarshal(v any) []byte {
	b, err := marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// iso formats a time like JavaScript's Date.prototype.toISOString.
func iso(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// nowMS is the server's current time truncated to milliseconds (JavaScript Date
// precision), skewed by SetClockOffset.
func (s *Server) nowMS() time.Time {
	now := time.Now
	if s.opts.Now != nil {
		now = s.opts.Now
	}
	return now().Add(time.Duration(s.clockOffset.Load())).UTC().Truncate(time.Millisecond)
}

// SetClockOffset makes the server's clock run ahead (or behind, negative) of the real time
// by d: message ts, room and visitor dates follow it. A real deployment's clock can be off
// by any amount; clients must not take it for their own. (Addition.)
func (s *Server) SetClockOffset(d time.Duration) { s.clockOffset.Store(int64(d)) }

// meteorAlphabet is the alphabet of Meteor's Random.id().
const meteorAlphabet = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"

// randomID returns a 17 character Meteor-style id.
func (s *Server) randomID() string { return s.randomString(17) }

func (s *Server) randomString(n int) string {
	b := make([]byte, n)
	s.randRead(b)
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(meteorAlphabet[int(c)%len(meteorAlphabet)])
	}
	return sb.String()
}

// hexID returns a 24 hex digit Mongo ObjectId-looking id (used for contactId).
func (s *Server) hexID() string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 12)
	s.randRead(b)
	out := make([]byte, 24)
	for i, c := range b {
		out[2*i] = hexd[c>>4]
		out[2*i+1] = hexd[c&15]
	}
	return string(out)
}

// encodeURI mirrors JavaScript's encodeURI.
func encodeURI(s string) string {
	const keep = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789;,/?:@&=+$-_.!~*'()#"
	const hexd = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(keep, c) >= 0 {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hexd[c>>4])
		sb.WriteByte(hexd[c&15])
	}
	return sb.String()
}

// jsType names the JavaScript typeof of a decoded JSON value (null as "null").
func jsType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	default:
		return "object"
	}
}

// randRead fills b from Options.Random (crypto/rand when unset).
func (s *Server) randRead(b []byte) {
	if s.opts.Random == nil {
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		return
	}
	s.randMu.Lock()
	defer s.randMu.Unlock()
	if _, err := io.ReadFull(s.opts.Random, b); err != nil {
		panic(err)
	}
}
