package activities

import (
	"encoding/json"
	"testing"

	"github.com/igdirect/bridge/workflows"
)

// The memory's dedup part round-trips with the unsends still waiting for their message
// (issue 19, found by the simulator: a message Meta delivered after its run had completed
// was shown although the customer had unsent it), and a first version's row (the dedup keys
// alone, a JSON string) is still read.
func TestConversationMemoryKeepsWaitingUnsends(t *testing.T) {
	var in workflows.SaveConversationInput
	in.Seen.Add("message:m1", 10)
	in.Unsent.Add("m2", 10)
	raw, err := encodeMemory(in)
	if err != nil {
		t.Fatal(err)
	}
	firstVersion, err := json.Marshal(in.Seen)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		raw        []byte
		wantUnsent bool
	}{
		{"this version", raw, true},
		{"first version", firstVersion, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res workflows.LoadConversationResult
			if err := decodeMemory(tc.raw, &res); err != nil {
				t.Fatal(err)
			}
			if !res.Seen.Has("message:m1") {
				t.Error("dedup key lost")
			}
			if res.Unsent.Has("m2") != tc.wantUnsent {
				t.Errorf("unsent m2 kept = %v, want %v", res.Unsent.Has("m2"), tc.wantUnsent)
			}
		})
	}
}
