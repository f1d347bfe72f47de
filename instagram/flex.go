package instagram

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// ID is a Graph/Instagram identifier. Meta documents IDs as JSON strings but
// its own examples (and third-party senders) use numbers for some of them
// (ad_id, app ids…), and 17-digit numbers do not survive float64, so ID
// accepts a string or a number and keeps the digits exactly (trap 18).
// null and any other shape decode to "" rather than failing the batch.
type ID string

// UnmarshalJSON implements json.Unmarshaler.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		*id = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			*id = ""
			return nil
		}
		*id = ID(s)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		// Keep the literal as written. Exponent forms (1.7e16) are not IDs
		// anyone sends; normalise them only when they are exact integers.
		s := string(b)
		if strings.ContainsAny(s, ".eE") {
			if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				s = strconv.FormatInt(int64(f), 10)
			}
		}
		*id = ID(s)
	default: // null, bool, object, array
		*id = ""
	}
	return nil
}

// String returns the ID as a plain string.
func (id ID) String() string { return string(id) }

// flexInt decodes an integer sent as a JSON number or a numeric string
// (num_edit, Graph error codes, usage header fields). Anything else is 0.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	v, _ := parseFlexInt(b)
	*n = flexInt(v)
	return nil
}

// parseFlexInt parses a JSON number or a JSON string holding a number.
// Fractions are truncated; unparseable input yields (0, false).
func parseFlexInt(b []byte) (int64, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1<<62 {
		return int64(f), true
	}
	return 0, false
}
