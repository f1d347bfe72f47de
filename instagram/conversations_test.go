package instagram

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// The thread is read as Meta documents it, and its times are read in either form.
func TestConversationsAPI(t *testing.T) {
	f := newFakeGraph(t,
		step{want{http.MethodGet, "/v23.0/" + testPageID + "/conversations", pageQuery("platform", "instagram", "user_id", testIGSID), noBodyHeader, ""},
			reply{body: `{"data":[{"id":"aWdfZAG06"}]}`}},
		step{want{http.MethodGet, "/v23.0/aWdfZAG06", pageQuery("fields", "messages"), noBodyHeader, ""},
			reply{body: `{"messages":{"data":[{"id":"m2","created_time":"2026-03-02T10:08:21+0000"},{"id":"m1","created_time":1772445000}]},"id":"aWdfZAG06"}`}},
		step{want{http.MethodGet, "/v23.0/m2", pageQuery("fields", "id,created_time,from,to,message"), noBodyHeader, ""},
			reply{body: `{"id":"m2","created_time":"2026-03-02T10:08:21+0000","from":{"username":"casa","id":17841400000000001},"to":{"data":[{"username":"maria","id":"` + testIGSID + `"}]},"message":"Ana: hello"}`}},
		step{want{http.MethodGet, "/v23.0/" + testPageID + "/conversations", pageQuery("platform", "instagram", "user_id", "0000"), noBodyHeader, ""},
			reply{body: `{"data":[]}`}},
	)
	c := newTestClient(f)
	ctx := context.Background()
	id, err := c.ConversationID(ctx, testPageID, testPageToken, testIGSID)
	if err != nil || id != "aWdfZAG06" {
		t.Fatalf("ConversationID = %q, %v", id, err)
	}
	msgs, err := c.ThreadMessageIDs(ctx, testPageToken, id)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("ThreadMessageIDs = %+v, %v", msgs, err)
	}
	if want := time.Date(2026, 3, 2, 10, 8, 21, 0, time.UTC); !msgs[0].Created.Equal(want) {
		t.Errorf("ISO created_time read as %v", msgs[0].Created)
	}
	if want := time.Unix(1772445000, 0); !msgs[1].Created.Equal(want) {
		t.Errorf("UNIX created_time read as %v", msgs[1].Created)
	}
	m, err := c.ThreadMessageDetails(ctx, testPageToken, "m2")
	if err != nil || m.ID != "m2" || m.FromID != "17841400000000001" || m.Text != "Ana: hello" {
		t.Fatalf("ThreadMessageDetails = %+v, %v", m, err)
	}
	if id, err := c.ConversationID(ctx, testPageID, testPageToken, "0000"); err != nil || id != "" {
		t.Fatalf("no thread: %q, %v", id, err)
	}
	if _, err := c.ThreadMessageIDs(ctx, testPageToken, ""); err == nil {
		t.Fatal("an empty conversation id was sent")
	}
}
