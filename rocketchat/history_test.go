package rocketchat

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHistoryReadsMessagesNewestFirst: the visitor's view of a room, with its shapes: system
// messages, the visitor's own (token), an agent's text, UI-kit blocks and a file.
func TestHistoryReadsMessagesNewestFirst(t *testing.T) {
	body := `{"messages":[
		{"_id":"m4","rid":"` + testRID + `","msg":"","ts":"2025-05-02T10:16:00.000Z","u":{"_id":"agent1","username":"ana","name":"Ana Souza"},
		 "file":{"_id":"Fz81","name":"boleto.pdf","type":"application/pdf","size":88211},
		 "attachments":[{"title":"boleto.pdf","title_link":"/file-upload/Fz81/boleto.pdf"}],
		 "fileUpload":{"publicFilePath":"https://chat.example.com/file-upload/Fz81/boleto.pdf?token=x","type":"application/pdf","size":88211}},
		{"_id":"m3","rid":"` + testRID + `","msg":"Oi Maria!","ts":"2025-05-02T10:15:02.000Z","u":{"_id":"agent1","username":"ana","name":"Ana Souza"}},
		{"_id":"m2","rid":"` + testRID + `","msg":"Olá!","token":"` + testToken + `","ts":"2025-05-02T10:11:20.000Z","u":{"_id":"v1","username":"guest-42"}},
		{"_id":"m1","rid":"` + testRID + `","msg":"","t":"livechat-started","ts":"2025-05-02T10:11:13.000Z","u":{"_id":"v1","username":"guest-42"}}
	],"success":true}`
	end := time.Date(2025, 5, 2, 10, 20, 0, 0, time.UTC)
	f := newFakeRC(t, step{
		want:  want{method: http.MethodGet, path: "/api/v1/livechat/messages.history/" + testRID, query: url.Values{"token": {testToken}, "limit": {"50"}, "end": {"2025-05-02T10:20:00.000Z"}}},
		reply: reply{status: http.StatusOK, body: body},
	})
	msgs, err := newTestClient(f).History(context.Background(), testToken, testRID, end, 50)
	require.NoError(t, err)
	require.Len(t, msgs, 4)
	require.Equal(t, "m4", msgs[0].ID)
	require.Equal(t, "/file-upload/Fz81/boleto.pdf", msgs[0].FilePath)
	require.Equal(t, "Ana Souza", msgs[1].U.Name)
	require.Equal(t, testToken, msgs[2].Token)
	require.Equal(t, "livechat-started", msgs[3].T)
	require.Equal(t, time.Date(2025, 5, 2, 10, 15, 2, 0, time.UTC), msgs[1].TS)
}

// An agent's file is downloaded only from a path rebuilt from the upload's own id and name:
// title_link and publicFilePath (which an agent or an app can write) are never used, and an
// id or a name that is not plain leaves no path, so the send refuses it (with a note) before
// any request is made (issue 13.1).
func TestHistoryFilePathIsRebuiltAndChecked(t *testing.T) {
	for _, tt := range []struct {
		name, id, file, titleLink, wantPath string
	}{
		{"plain upload", "Fz81", "boleto final.pdf", "/file-upload/Fz81/boleto%20final.pdf", "/file-upload/Fz81/boleto%20final.pdf"},
		{"title_link elsewhere is ignored", "Fz81", "a.pdf", "/file-upload/../api/v1/me", "/file-upload/Fz81/a.pdf"},
		{"title_link to another file is ignored", "Fz81", "a.pdf", "/file-upload/OTHERROOMFILE/secret.pdf", "/file-upload/Fz81/a.pdf"},
		{"file id with ..", "..", "a.pdf", "/file-upload/Fz81/a.pdf", ""},
		{"file id with %2e%2e", "%2e%2e", "a.pdf", "", ""},
		{"file id with a slash", "Fz81/../../api/v1/me", "a.pdf", "", ""},
		{"file id with a query", "Fz81?x=1", "a.pdf", "", ""},
		{"file id with a backslash", "Fz81\\..", "a.pdf", "", ""},
		{"absolute URL as id", "https://evil.example/x", "a.pdf", "", ""},
		{"scheme-relative URL as id", "//evil.example", "a.pdf", "", ""},
		{"name ..", "Fz81", "..", "", ""},
		{"name with slash", "Fz81", "../../api/v1/me", "", ""},
		{"name with encoded dots", "Fz81", "%2e%2e", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"messages":[{"_id":"f1","rid":"` + testRID + `","ts":"2025-05-02T10:16:00.000Z","u":{"_id":"agent1","username":"ana"},` +
				`"file":{"_id":` + strconv.Quote(tt.id) + `,"name":` + strconv.Quote(tt.file) + `,"type":"application/pdf","size":10},` +
				`"attachments":[{"title":"x","type":"file","title_link":` + strconv.Quote(tt.titleLink) + `}],` +
				`"fileUpload":{"publicFilePath":"https://evil.example/x","type":"application/pdf","size":10}}],"success":true}`
			f := newFakeRC(t, step{
				want:  want{method: http.MethodGet, path: "/api/v1/livechat/messages.history/" + testRID, query: url.Values{"token": {testToken}}},
				reply: reply{status: http.StatusOK, body: body},
			})
			msgs, err := newTestClient(f).History(context.Background(), testToken, testRID, time.Time{}, 0)
			require.NoError(t, err)
			require.Len(t, msgs, 1)
			require.NotNil(t, msgs[0].File, "the message still reaches the conversation, which tells the agent")
			require.Equal(t, tt.wantPath, msgs[0].FilePath)
		})
	}
}

// A message with a field of a shape this client does not know is still read (issue 19): the
// field is named in Unreadable, the rest is kept — an agent's reply must not vanish because
// an older Rocket.Chat or an app stored its file reference as a string. A quote's text is
// read from its attachment; the file's own attachment is not a quote.
func TestHistoryReadsOddMessagesField(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		ok         bool
		text       string
		unreadable []string
		quotes     int
		file       bool
	}{
		{"file as a string", `{"_id":"m1","msg":"a001 hi","ts":"2026-03-02T10:00:00.000Z","u":{"_id":"u1","username":"ana"},"file":"legacy-reference"}`,
			true, "a001 hi", []string{"file"}, 0, false},
		{"blocks not a list", `{"_id":"m2","msg":"x","ts":"2026-03-02T10:00:00.000Z","u":{"_id":"u1"},"blocks":{"type":"section"}}`,
			true, "x", []string{"blocks"}, 0, false},
		{"quote alone", `{"_id":"m3","msg":"","ts":"2026-03-02T10:00:00.000Z","u":{"_id":"u1"},"attachments":[{"text":"quoted words","message_link":"https://chat/x"}]}`,
			true, "", nil, 1, false},
		{"file with its own attachment", `{"_id":"m4","ts":"2026-03-02T10:00:00.000Z","u":{"_id":"u1"},"file":{"_id":"F1","name":"a.pdf","type":"application/pdf"},"attachments":[{"type":"file","title":"a.pdf","description":"here"}]}`,
			true, "", nil, 0, true},
		{"no id", `{"msg":"x","ts":"2026-03-02T10:00:00.000Z"}`, false, "", nil, 0, false},
		{"not an object", `["x"]`, false, "", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := decodeHistoryMessage(json.RawMessage(tt.raw))
			if ok != tt.ok {
				t.Fatalf("read = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if m.Msg != tt.text || !slices.Equal(m.Unreadable, tt.unreadable) || len(m.Attachments) != tt.quotes || (m.File != nil) != tt.file {
				t.Fatalf("got msg %q unreadable %v quotes %d file %v", m.Msg, m.Unreadable, len(m.Attachments), m.File != nil)
			}
		})
	}
}
