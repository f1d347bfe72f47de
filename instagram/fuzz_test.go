package instagram

import (
	"encoding/json"
	"testing"
)

func webhookSeeds() []string {
	return []string{
		exText, wrap(exAttachments), wrap(ev(exOtherAttachments)), wrap(exUnsupported), wrap(exStoryMention),
		wrap(ev(exReply)), wrap(ev(exStoryReply)), wrap(ev(exQuickReply)), wrap(ev(exAdRef)), wrap(ev(exShopRef)),
		wrap(ev(exIGMe)), exEcho, wrap(exUnsend), wrap(exEchoUnsend), wrap(exEdit), wrap(exEditString), wrap(exReact),
		wrap(exUnreact), wrap(exRead), wrap(exPostback), wrap(exPostbackRef), wrap(exReferral), wrap(ev(exEphemeral)),
		wrap(exPass), wrap(exTake), wrap(exRequest), wrap(exAppRoles), exStandby, exDashboardPage, exDashboardChanges,
		`{"object":"instagram","entry":[{"id":1,"time":"x","messaging":[1,"a",null,{"timestamp":1e400}]}]}`,
		"", "null", "{}", `{"object":"instagram","entry":[{"messaging":[{"message_edit":{"num_edit":"NaN"}}]}]}`,
	}
}

func FuzzParseWebhook(f *testing.F) {
	for _, s := range webhookSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := ParseWebhook(body)
		if err != nil {
			if env != nil {
				t.Fatal("non-nil envelope with error")
			}
			return
		}
		if env.Object == "" {
			t.Fatal("accepted body without object")
		}
		// Exercise the helpers on whatever was parsed; they must not panic.
		for _, e := range env.Entry {
			for _, list := range [][]Messaging{e.Messaging, e.Standby} {
				for _, m := range list {
					if m.Message != nil {
						for _, a := range m.Message.Attachments {
							_, _, _ = a.URL(), a.Title(), a.ReelVideoID()
						}
					}
				}
			}
		}
		// A parsed envelope must re-encode.
		if _, err := json.Marshal(env); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	const secret = "fuzz-secret"
	for _, s := range webhookSeeds()[:6] {
		f.Add(secret, []byte(s), Sign(secret, []byte(s)))
		f.Add(secret, []byte(s), "sha1=0123")
	}
	f.Add("", []byte("{}"), "")
	f.Add("k", []byte(nil), "sha256=")
	f.Add("k", []byte("x"), "SHA256=zz")
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		err := VerifySignature(secret, body, header)
		if err == nil && secret == "" {
			t.Fatal("accepted with empty secret")
		}
		if secret != "" && VerifySignature(secret, body, Sign(secret, body)) != nil {
			t.Fatal("own signature rejected")
		}
	})
}
