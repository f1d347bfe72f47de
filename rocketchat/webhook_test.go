package rocketchat

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Spec examples (§10.3–10.5, §12), verbatim where the spec gives JSON.
const (
	whMessage = `{
  "_id": "hG7xQp2Ws9KeLm3Zr", "label": "Maria Silva", "topic": "optional room topic",
  "createdAt": "2025-05-02T10:11:13.000Z", "lastMessageAt": "2025-05-02T10:15:02.000Z",
  "tags": ["instagram"], "customFields": { "order": "123" },
  "visitor": { "_id": "kZ3ttd2hrbxzR7YcT", "token": "ig-17841400000000001", "name": "Maria Silva", "username": "guest-42",
    "department": "64f0c0ffee0000000000d001", "ip": "203.0.113.7", "os": "Linux x86_64", "browser": "Chrome 124.0",
    "customFields": { "instagram_id": "17841400000000001" },
    "email": [ { "address": "maria@example.com" } ], "phone": [ { "phoneNumber": "+5511999990000" } ] },
  "agent": { "_id": "agentUserId01", "username": "ana", "name": "Ana Souza", "email": "ana@example.com", "customFields": {} },
  "crmData": "{}",
  "type": "Message",
  "messages": [ {
    "u": { "_id": "agentUserId01", "username": "ana", "name": "Ana Souza" },
    "_id": "m8QzPq0Lk2", "username": "ana", "msg": "Oi Maria, como posso ajudar?",
    "ts": "2025-05-02T10:15:02.000Z", "rid": "hG7xQp2Ws9KeLm3Zr", "agentId": "agentUserId01",
    "_updatedAt": "2025-05-02T10:15:02.050Z" } ]
}`
	whFile = `{"_id":"hG7xQp2Ws9KeLm3Zr","type":"Message","visitor":{"_id":"kZ3ttd2hrbxzR7YcT","token":"ig-17841400000000001","username":"guest-42"},
 "messages":[{
  "u": { "_id": "agentUserId01", "username": "ana", "name": "Ana Souza" },
  "_id": "m9FileAbc", "username": "ana", "ts": "2025-05-02T10:16:00.000Z", "rid": "hG7xQp2Ws9KeLm3Zr", "agentId": "agentUserId01",
  "file": { "_id": "Fz81", "name": "boleto.pdf", "type": "application/pdf", "size": 88211, "format": "pdf" },
  "attachments": [ { "title": "boleto.pdf", "type": "file", "format": "pdf", "description": "segue o boleto",
    "title_link": "/file-upload/Fz81/boleto.pdf", "title_link_download": true, "size": 88211, "fileId": "Fz81" } ],
  "fileUpload": { "publicFilePath": "https://chat.example.com/file-upload/Fz81/boleto.pdf?token=eyJhbGciOi...", "type": "application/pdf", "size": 88211 },
  "_updatedAt": "2025-05-02T10:16:00.020Z" }]}`
	whClose = `{
  "_id": "hG7xQp2Ws9KeLm3Zr", "label": "Maria Silva",
  "createdAt": "2025-05-02T10:11:13.000Z", "lastMessageAt": "2025-05-02T10:30:00.000Z",
  "visitor": { "_id": "kZ3ttd2hrbxzR7YcT", "token": "ig-17841400000000001", "name": "Maria Silva", "username": "guest-42",
               "department": "64f0c0ffee0000000000d001", "customFields": {} },
  "agent": { "_id": "agentUserId01", "username": "ana", "name": "Ana Souza", "email": "ana@example.com" },
  "type": "LivechatSession",
  "messages": [
    { "u": {"_id":"kZ3ttd2hrbxzR7YcT","username":"guest-42","name":"Maria Silva"}, "_id": "igmid-1", "username": "guest-42",
      "msg": "Olá!", "ts": "2025-05-02T10:11:20.000Z", "rid": "hG7xQp2Ws9KeLm3Zr", "_updatedAt": "2025-05-02T10:11:20.010Z" },
    { "u": {"_id":"agentUserId01","username":"ana","name":"Ana Souza"}, "_id": "m8QzPq0Lk2", "username": "ana",
      "msg": "Oi Maria!", "ts": "2025-05-02T10:15:02.000Z", "rid": "hG7xQp2Ws9KeLm3Zr", "agentId": "agentUserId01",
      "_updatedAt": "2025-05-02T10:15:02.050Z" },
    { "u": {"_id":"agentUserId01","username":"ana"}, "_id": "cls1", "username": "ana", "msg": "Resolved",
      "ts": "2025-05-02T10:30:00.000Z", "rid": "hG7xQp2Ws9KeLm3Zr", "agentId": "agentUserId01",
      "closingMessage": true, "_updatedAt": "2025-05-02T10:30:00.000Z" }
  ],
  "departmentId": "64f0c0ffee0000000000d001",
  "servedBy": { "_id": "agentUserId01", "username": "ana", "ts": "2025-05-02T10:11:13.100Z" },
  "closedAt": "2025-05-02T10:30:00.000Z",
  "closedBy": { "_id": "agentUserId01", "username": "ana" },
  "closer": "user"
}`
	whOffline = `{ "type": "LivechatOfflineMessage", "sentAt": "2025-05-02T22:00:00.000Z",
  "visitor": { "name": "Maria Silva", "email": "maria@example.com" }, "message": "Please call me back" }`
	whTest = `{ "type": "LivechatSession", "_id": "fasd6f5a4sd6f8a4sdf", "label": "title", "topic": "asiodojf",
  "createdAt": "2025-05-02T10:00:00.000Z", "lastMessageAt": "2025-05-02T10:00:00.000Z", "tags": ["tag1","tag2","tag3"], "customFields": {"productId":"123456"},
  "visitor": {"_id":"","name":"visitor name","username":"visitor-username","department":"department",
              "email":"email@address.com","phone":"192873192873","ip":"123.456.7.89","browser":"Chrome","os":"Linux",
              "customFields":{"customerId":"123456"}},
  "agent": {"_id":"asdf89as6df8","username":"agent.username","name":"Agent Name","email":"agent@email.com"},
  "messages": [ {"username":"visitor-username","msg":"message content","ts":"2025-05-02T10:00:00.000Z"},
                {"username":"agent.username","agentId":"asdf89as6df8","msg":"message content from agent","ts":"2025-05-02T10:00:00.000Z"} ] }`
	whTaken = `{"_id":"r1","type":"LivechatSessionTaken","visitor":{"_id":"v","token":"t1"},"departmentId":"d1",
  "servedBy":{"_id":"agentUserId01","username":"ana","ts":"2025-05-02T10:11:13.100Z"},"messages":[],"newKey":{"x":1}}`
	whEdited = `{"_id":"r1","type":"Message","visitor":{"token":"t1"},"messages":[{"_id":"m1","msg":"fixed","agentId":"a","editedAt":"2025-05-02T10:20:00.000Z",
  "ts":"2025-05-02T10:15:02.000Z","blocks":[{"type":"section"}]}]}`
	outgoing = `{
  "token": "oUtGoInGtOkEn", "bot": false, "trigger_word": "/instagram", "channel_id": "GENERAL", "channel_name": "general",
  "message_id": "aBcD1234", "timestamp": "2025-05-02T10:40:00.000Z", "user_id": "adminUserId", "user_name": "admin",
  "text": "/instagram status", "siteUrl": "https://chat.example.com", "alias": "optional", "isEdited": true, "tmid": "optional thread id"
}`
)

func TestParseWebhook(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, p *WebhookPayload)
	}{
		{"message", whMessage, func(t *testing.T, p *WebhookPayload) {
			if p.Type != TypeMessage || p.ID != "hG7xQp2Ws9KeLm3Zr" || p.CrmData != "{}" {
				t.Errorf("%+v", p)
			}
			v := p.Visitor
			if v.ID != "kZ3ttd2hrbxzR7YcT" || v.Token != "ig-17841400000000001" || v.Name != "Maria Silva" || v.Username != "guest-42" || v.Department != "64f0c0ffee0000000000d001" {
				t.Errorf("visitor %+v", v)
			}
			if p.Agent == nil || *p.Agent != (WebhookAgent{ID: "agentUserId01", Username: "ana", Name: "Ana Souza", Email: "ana@example.com"}) {
				t.Errorf("agent %+v", p.Agent)
			}
			if len(p.Messages) != 1 {
				t.Fatalf("messages %d", len(p.Messages))
			}
			m := p.Messages[0]
			if m.ID != "m8QzPq0Lk2" || m.Msg != "Oi Maria, como posso ajudar?" || m.AgentID != "agentUserId01" || m.RID != "hG7xQp2Ws9KeLm3Zr" ||
				m.TS != "2025-05-02T10:15:02.000Z" || m.Username != "ana" || m.U.ID != "agentUserId01" || m.U.Name != "Ana Souza" || m.ClosingMessage || m.File != nil {
				t.Errorf("message %+v", m)
			}
		}},
		{"file message without msg", whFile, func(t *testing.T, p *WebhookPayload) {
			m := p.Messages[0]
			if m.Msg != "" || m.File == nil || *m.File != (WebhookFile{ID: "Fz81", Name: "boleto.pdf", Type: "application/pdf", Size: 88211}) {
				t.Errorf("file %+v", m.File)
			}
			if m.FileUpload == nil || m.FileUpload.PublicFilePath != "https://chat.example.com/file-upload/Fz81/boleto.pdf?token=eyJhbGciOi..." ||
				m.FileUpload.Type != "application/pdf" || m.FileUpload.Size != 88211 {
				t.Errorf("fileUpload %+v", m.FileUpload)
			}
			if len(m.Attachments) != 1 || !strings.Contains(string(m.Attachments[0]), `"title_link": "/file-upload/Fz81/boleto.pdf"`) {
				t.Errorf("attachments %s", m.Attachments)
			}
		}},
		{"session closed by agent", whClose, func(t *testing.T, p *WebhookPayload) {
			if p.Type != TypeSession || p.Closer != "user" || p.ClosedAt != "2025-05-02T10:30:00.000Z" || p.DepartmentID != "64f0c0ffee0000000000d001" {
				t.Errorf("%+v", p)
			}
			if p.ServedBy == nil || p.ServedBy.ID != "agentUserId01" || p.ServedBy.Username != "ana" {
				t.Errorf("servedBy %+v", p.ServedBy)
			}
			if len(p.Messages) != 3 || p.Messages[0].AgentID != "" || p.Messages[1].AgentID == "" || !p.Messages[2].ClosingMessage || p.Messages[2].Msg != "Resolved" {
				t.Errorf("messages %+v", p.Messages)
			}
		}},
		{"offline message", whOffline, func(t *testing.T, p *WebhookPayload) {
			if p.Type != TypeOfflineMessage || p.Visitor.Name != "Maria Silva" || p.ID != "" {
				t.Errorf("%+v", p)
			}
		}},
		{"webhook.test sample with string email/phone", whTest, func(t *testing.T, p *WebhookPayload) {
			if p.Type != TypeSession || p.ID != "fasd6f5a4sd6f8a4sdf" || p.Visitor.ID != "" || p.Visitor.Username != "visitor-username" ||
				p.Agent == nil || p.Agent.Email != "agent@email.com" || len(p.Messages) != 2 || p.Messages[1].AgentID != "asdf89as6df8" {
				t.Errorf("%+v", p)
			}
		}},
		{"taken with unknown keys", whTaken, func(t *testing.T, p *WebhookPayload) {
			if p.Type != TypeSessionTaken || p.ServedBy == nil || p.ServedBy.Username != "ana" || p.DepartmentID != "d1" || p.Agent != nil {
				t.Errorf("%+v", p)
			}
		}},
		{"edited message with blocks", whEdited, func(t *testing.T, p *WebhookPayload) {
			m := p.Messages[0]
			if m.EditedAt != "2025-05-02T10:20:00.000Z" || string(m.Blocks) != `[{"type":"section"}]` {
				t.Errorf("%+v", m)
			}
		}},
		{"wrong types are skipped", `{"type":"Message","_id":"r","visitor":{"token":"t","name":5},"agent":{"email":["a@b"]},"messages":[{"_id":"m","msg":"ok","ts":{"$date":1}}]}`,
			func(t *testing.T, p *WebhookPayload) {
				if p.Visitor.Token != "t" || p.Agent == nil || p.Agent.Email != "" || p.Messages[0].Msg != "ok" || p.Messages[0].TS != "" {
					t.Errorf("%+v", p)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseWebhook([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}

func TestParseWebhookErrors(t *testing.T) {
	for _, body := range []string{"", "{", `{"_id":"r"}`, `{"type":""}`, `[]`, `"Message"`, "{\"type\":\"Message\",\"x\":\"\xfe\"}", `{"type":"Message"} {}`} {
		if p, err := ParseWebhook([]byte(body)); !errors.Is(err, ErrInvalidPayload) || p != nil {
			t.Errorf("%q: %+v %v", body, p, err)
		}
	}
}

func TestParseOutgoing(t *testing.T) {
	o, err := ParseOutgoing([]byte(outgoing))
	if err != nil {
		t.Fatal(err)
	}
	want := OutgoingMessage{Token: "oUtGoInGtOkEn", TriggerWord: "/instagram", ChannelID: "GENERAL", ChannelName: "general", MessageID: "aBcD1234",
		Timestamp: "2025-05-02T10:40:00.000Z", UserID: "adminUserId", UserName: "admin", Text: "/instagram status", SiteURL: "https://chat.example.com"}
	if *o != want {
		t.Errorf("got %+v", *o)
	}
	bots := map[string]bool{`true`: true, `false`: false, `{"i":"integrationId"}`: true, `null`: false, `{}`: false, `"x"`: true}
	for raw, wantBot := range bots {
		o, err := ParseOutgoing([]byte(`{"token":"t","bot":` + raw + `,"text":"hi"}`))
		if err != nil || o.Bot != wantBot || o.Text != "hi" {
			t.Errorf("bot %s: %+v %v", raw, o, err)
		}
	}
	for _, body := range []string{"", "nope", `[]`, "{\"text\":\"\xff\"}"} {
		if _, err := ParseOutgoing([]byte(body)); !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("%q: %v", body, err)
		}
	}
}

func FuzzParseWebhook(f *testing.F) {
	for _, s := range []string{whMessage, whFile, whClose, whOffline, whTest, whTaken, whEdited, outgoing, "{}", `{"type":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseWebhook(body)
		if err == nil {
			if p.Type == "" {
				t.Fatal("accepted without type")
			}
			if _, err := json.Marshal(p); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = ParseOutgoing(body)
	})
}
