package instagram

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// wrap puts messaging events (spec examples are often shown bare) into an
// envelope the way Meta delivers them.
func wrap(events ...string) string {
	return `{"object":"instagram","entry":[{"id":"17841400000000001","time":1767225600123,"messaging":[` + strings.Join(events, ",") + `]}]}`
}

// ev wraps a bare "message" object (§3.5–3.7, 3.15) into an event.
func ev(message string) string {
	return `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767225701000,"message":` + message + `}`
}

// Spec examples, verbatim (§2.1, §3).
const (
	exText = `{"object":"instagram","entry":[{"id":"17841400000000001","time":1767225600123,"messaging":[{
  "sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767225599871,
  "message":{"mid":"aWdfbWVzc2FnZV9pdGVtOjE6SUdNZXNzYWdlVGhyZWFkOjE3ODQxNDAwMDAwMDAwMDAxOjM0MDI4MjM2Njg0MTcxMDMwMDk0OTEyODE1NTAwMDAwMDAxNzozMjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAxNw","text":"Do you ship to Lisbon? \ud83d\ude42"}}]}]}`
	exAttachments = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767225701000,
 "message":{"mid":"aWdf…IMG2",
  "attachments":[
   {"type":"image","payload":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000011&signature=AbCdEf01"}},
   {"type":"video","payload":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000012&signature=AbCdEf02"}}]}}`
	exOtherAttachments = `{"mid":"aWdf…VAR","attachments":[
{"type":"audio","payload":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000013&signature=Zz1"}},
{"type":"file","payload":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000014&signature=Zz2"}},
{"type":"share","payload":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000015&signature=Zz3"}},
{"type":"ig_reel","payload":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000016&signature=Zz4","title":"Summer drop","reel_video_id":"18040000000000016"}},
{"type":"ephemeral"},
{"type":"unsupported_type","payload":{"url":null}},
{"type":"ig_story","payload":{"story_media_url":"https://scontent.example/story.mp4"}},
{"type":"reel","payload":{"url":"https://x/r","reel_video_id":18040000000000017}},
{"type":"brand_new_type","payload":{"something":["else"]}},
{"type":"template","payload":{"template_type":"generic","elements":[]}}]}`
	exUnsupported = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767225702000,
 "message":{"mid":"aWdf…UNSUP","is_unsupported":true}}`
	exStoryMention = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767225703000,
 "message":{"mid":"aWdf…MENTION","attachments":[{"type":"story_mention",
   "payload":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000021&signature=St1"}}]}}`
	exReply      = `{"mid":"aWdf…R1","text":"yes, the blue one","reply_to":{"mid":"aWdf…ORIGINAL"}}`
	exStoryReply = `{"mid":"aWdf…R2","text":"love this!","reply_to":{"story":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000031&signature=Rs1","id":"18100000000000031"}}}`
	exQuickReply = `{"mid":"aWdf…QR","text":"Track my order","quick_reply":{"payload":"TRACK_ORDER"}}`
	exAdRef      = `{"mid":"aWdf…AD","text":"Is this still available?",
  "referral":{"ref":"spring_campaign","ad_id":"120200000000000001","source":"ADS","type":"OPEN_THREAD",
   "ads_context_data":{"ad_title":"Spring sale","photo_url":"https://scontent.example.invalid/ad.jpg","video_url":null}}}`
	exShopRef = `{"mid":"aWdf…SHOP","referral":{"product":{"id":"7100000000000001"}}}`
	exIGMe    = `{"mid":"aWdf…IGME","referral":{"ref":"qr_packaging","source":"SHORTLINKS","type":"OPEN_THREAD"}}`
	exEcho    = `{"object":"instagram","entry":[{"id":"17841400000000001","time":1767225800500,"messaging":[{
  "sender":{"id":"17841400000000001"},"recipient":{"id":"6871234500000001"},"timestamp":1767225800100,
  "message":{"mid":"aWdf…ECHO1","text":"We ship to Lisbon in 2 days.","is_echo":true}}]}]}`
	exUnsend = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767225900000,
 "message":{"mid":"aWdf…IMG2","is_deleted":true}}`
	exEchoUnsend = `{"sender":{"id":"17841400000000001"},"recipient":{"id":"6871234500000001"},"timestamp":1767225900001,
 "message":{"mid":"aWdf…B","is_echo":true,"is_deleted":true}}`
	exEdit = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226000000,
 "message_edit":{"mid":"aWdf…R1","text":"yes, the navy one","num_edit":1}}`
	exEditString = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226000001,
 "message_edit":{"mid":"aWdf…R1","text":"navy","num_edit":"2"}}`
	exReact = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226100000,
 "reaction":{"mid":"aWdf…ECHO1","action":"react","reaction":"love","emoji":"\u2764\ufe0f"}}`
	exUnreact = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226160000,
 "reaction":{"mid":"aWdf…ECHO1","action":"unreact"}}`
	exRead = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226200000,
 "read":{"mid":"aWdf…ECHO1"}}`
	exPostback = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226300000,
 "postback":{"mid":"aWdf…PB","title":"What are your opening hours?","payload":"FAQ_HOURS"}}`
	exPostbackRef = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226301000,
 "postback":{"mid":"aWdf…PB2","title":"What are your opening hours?","payload":"FAQ_HOURS",
  "referral":{"ref":"qr_packaging","source":"SHORTLINKS","type":"OPEN_THREAD"}}}`
	exReferral = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226400000,
 "referral":{"ref":"invoice_4471","source":"SHORTLINKS","type":"OPEN_THREAD"}}`
	exEphemeral = `{"mid":"aWdf…EPH","attachments":[{"type":"ephemeral"}]}`
	exPass      = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226500000,
 "pass_thread_control":{"previous_owner_app_id":"910000000000002","new_owner_app_id":"910000000000001","metadata":"escalated: refund"}}`
	exTake = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226600000,
 "take_thread_control":{"previous_owner_app_id":"910000000000001","new_owner_app_id":"1217981644879628","metadata":"agent took over"}}`
	exRequest = `{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226700000,
 "request_thread_control":{"requested_owner_app_id":"910000000000003","metadata":"please hand over"}}`
	exAppRoles = `{"recipient":{"id":"17841400000000001"},"timestamp":1767226800000,
 "app_roles":{"910000000000001":["primary_receiver"]}}`
	exStandby = `{"object":"instagram","entry":[{"id":"17841400000000001","time":1767226900500,"standby":[{
  "sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226900100,
  "message":{"mid":"aWdf…SB1","text":"hello? anyone there?"}}]}]}`
	exDashboardPage    = `{"object":"page","entry":[{"id":"0","time":1527459824,"messaging":[{"sender":{"id":"12334"},"recipient":{"id":"23245"},"timestamp":"1527459824","message":{"mid":"random_mid","text":"random_text"}}]}]}`
	exDashboardChanges = `{"object":"instagram","entry":[{"id":"0","time":1527459824,"changes":[{"field":"messages","value":{"sender":{"id":"12334"},"recipient":{"id":"23245"},"timestamp":"1527459824","message":{"mid":"random_mid","text":"random_text"}}}]}]}`
)

func firstEvent(t *testing.T, body string) Messaging {
	t.Helper()
	env, err := ParseWebhook([]byte(body))
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	if len(env.Entry) != 1 || len(env.Entry[0].Messaging) == 0 {
		t.Fatalf("unexpected shape: %+v", env)
	}
	return env.Entry[0].Messaging[0]
}

func TestParseWebhookExamples(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, m Messaging)
	}{
		{"text", exText, func(t *testing.T, m Messaging) {
			if m.Sender.ID != "6871234500000001" || m.Recipient.ID != "17841400000000001" || m.Timestamp != 1767225599871 {
				t.Errorf("ids/time: %+v", m)
			}
			if m.Message == nil || m.Message.Text != "Do you ship to Lisbon? 🙂" || !strings.HasPrefix(m.Message.MID, "aWdf") || len(m.Message.MID) < 150 {
				t.Errorf("message: %+v", m.Message)
			}
			if m.Unknown != nil {
				t.Errorf("unknown: %v", m.Unknown)
			}
		}},
		{"attachments", wrap(exAttachments), func(t *testing.T, m Messaging) {
			a := m.Message.Attachments
			if len(a) != 2 || a[0].Type != "image" || a[1].Type != "video" ||
				a[0].URL() != "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000011&signature=AbCdEf01" {
				t.Errorf("attachments: %+v", a)
			}
		}},
		{"other attachment variants", wrap(ev(exOtherAttachments)), func(t *testing.T, m Messaging) {
			a := m.Message.Attachments
			if len(a) != 10 {
				t.Fatalf("got %d attachments", len(a))
			}
			types := []string{}
			for _, x := range a {
				types = append(types, x.Type)
			}
			want := []string{"audio", "file", "share", "ig_reel", "ephemeral", "unsupported_type", "ig_story", "reel", "brand_new_type", "template"}
			if !reflect.DeepEqual(types, want) {
				t.Errorf("types %v", types)
			}
			if a[3].Title() != "Summer drop" || a[3].ReelVideoID() != "18040000000000016" || !strings.Contains(a[3].URL(), "asset_id=17900000000000016") {
				t.Errorf("reel helpers: %q %q %q", a[3].Title(), a[3].ReelVideoID(), a[3].URL())
			}
			if a[4].URL() != "" || a[4].Payload != nil || a[5].URL() != "" {
				t.Errorf("ephemeral/unsupported should have no URL")
			}
			if a[6].URL() != "https://scontent.example/story.mp4" {
				t.Errorf("ig_story url %q", a[6].URL())
			}
			if a[7].ReelVideoID() != "18040000000000017" {
				t.Errorf("numeric reel id %q", a[7].ReelVideoID())
			}
			if a[8].URL() != "" || a[8].Title() != "" || string(a[8].Payload) != `{"something":["else"]}` {
				t.Errorf("unknown type payload %s", a[8].Payload)
			}
		}},
		{"unsupported flag", wrap(exUnsupported), func(t *testing.T, m Messaging) {
			if !m.Message.IsUnsupported || m.Message.MID != "aWdf…UNSUP" || m.Timestamp != 1767225702000 {
				t.Errorf("%+v", m.Message)
			}
		}},
		{"story mention", wrap(exStoryMention), func(t *testing.T, m Messaging) {
			a := m.Message.Attachments
			if len(a) != 1 || a[0].Type != "story_mention" || !strings.Contains(a[0].URL(), "asset_id=17900000000000021") {
				t.Errorf("%+v", a)
			}
		}},
		{"inline reply", wrap(ev(exReply)), func(t *testing.T, m Messaging) {
			if r := m.Message.ReplyTo; r == nil || r.MID != "aWdf…ORIGINAL" || r.Story != nil {
				t.Errorf("%+v", r)
			}
		}},
		{"story reply", wrap(ev(exStoryReply)), func(t *testing.T, m Messaging) {
			r := m.Message.ReplyTo
			if r == nil || r.MID != "" || r.Story == nil || r.Story.ID != "18100000000000031" || !strings.Contains(r.Story.URL, "asset_id=17900000000000031") {
				t.Errorf("%+v", r)
			}
		}},
		{"quick reply", wrap(ev(exQuickReply)), func(t *testing.T, m Messaging) {
			if m.Message.Text != "Track my order" || m.Message.QuickReply == nil || m.Message.QuickReply.Payload != "TRACK_ORDER" {
				t.Errorf("%+v", m.Message)
			}
		}},
		{"ad referral", wrap(ev(exAdRef)), func(t *testing.T, m Messaging) {
			r := m.Message.Referral
			if r == nil || r.Ref != "spring_campaign" || r.AdID != "120200000000000001" || r.Source != "ADS" || r.Type != "OPEN_THREAD" ||
				!strings.Contains(string(r.AdsContextData), `"ad_title":"Spring sale"`) {
				t.Errorf("%+v", r)
			}
		}},
		{"shop referral", wrap(ev(exShopRef)), func(t *testing.T, m Messaging) {
			r := m.Message.Referral
			if r == nil || r.Product == nil || r.Product.ID != "7100000000000001" || m.Message.Text != "" {
				t.Errorf("%+v", r)
			}
		}},
		{"ig.me referral without text", wrap(ev(exIGMe)), func(t *testing.T, m Messaging) {
			if r := m.Message.Referral; r == nil || r.Ref != "qr_packaging" || r.Source != "SHORTLINKS" {
				t.Errorf("%+v", r)
			}
		}},
		{"echo", exEcho, func(t *testing.T, m Messaging) {
			if !m.Message.IsEcho || m.Sender.ID != "17841400000000001" || m.Recipient.ID != "6871234500000001" {
				t.Errorf("%+v", m)
			}
		}},
		{"unsend", wrap(exUnsend), func(t *testing.T, m Messaging) {
			if !m.Message.IsDeleted || m.Message.IsEcho || m.Message.Text != "" || m.Message.Attachments != nil {
				t.Errorf("%+v", m.Message)
			}
		}},
		{"echo unsend", wrap(exEchoUnsend), func(t *testing.T, m Messaging) {
			if !m.Message.IsDeleted || !m.Message.IsEcho {
				t.Errorf("%+v", m.Message)
			}
		}},
		{"edit int", wrap(exEdit), func(t *testing.T, m Messaging) {
			if e := m.MessageEdit; e == nil || e.MID != "aWdf…R1" || e.Text != "yes, the navy one" || e.NumEdit != 1 {
				t.Errorf("%+v", e)
			}
		}},
		{"edit string num_edit", wrap(exEditString), func(t *testing.T, m Messaging) {
			if e := m.MessageEdit; e == nil || e.NumEdit != 2 {
				t.Errorf("%+v", e)
			}
		}},
		{"react", wrap(exReact), func(t *testing.T, m Messaging) {
			if r := m.Reaction; r == nil || r.Action != "react" || r.Reaction != "love" || r.Emoji != "❤️" || r.MID != "aWdf…ECHO1" {
				t.Errorf("%+v", r)
			}
		}},
		{"unreact", wrap(exUnreact), func(t *testing.T, m Messaging) {
			if r := m.Reaction; r == nil || r.Action != "unreact" || r.Reaction != "" || r.Emoji != "" {
				t.Errorf("%+v", r)
			}
		}},
		{"read", wrap(exRead), func(t *testing.T, m Messaging) {
			if m.Read == nil || m.Read.MID != "aWdf…ECHO1" || m.Message != nil {
				t.Errorf("%+v", m)
			}
		}},
		{"postback", wrap(exPostback), func(t *testing.T, m Messaging) {
			if p := m.Postback; p == nil || p.Payload != "FAQ_HOURS" || p.Title != "What are your opening hours?" || p.MID != "aWdf…PB" || p.Referral != nil {
				t.Errorf("%+v", p)
			}
		}},
		{"postback with referral", wrap(exPostbackRef), func(t *testing.T, m Messaging) {
			if p := m.Postback; p == nil || p.Referral == nil || p.Referral.Ref != "qr_packaging" {
				t.Errorf("%+v", p)
			}
		}},
		{"referral event", wrap(exReferral), func(t *testing.T, m Messaging) {
			if r := m.Referral; r == nil || r.Ref != "invoice_4471" || m.Message != nil {
				t.Errorf("%+v", r)
			}
		}},
		{"ephemeral", wrap(ev(exEphemeral)), func(t *testing.T, m Messaging) {
			if a := m.Message.Attachments; len(a) != 1 || a[0].Type != "ephemeral" || a[0].URL() != "" {
				t.Errorf("%+v", a)
			}
		}},
		{"pass thread control", wrap(exPass), func(t *testing.T, m Messaging) {
			p := m.PassThreadControl
			if p == nil || p.PreviousOwnerAppID != "910000000000002" || p.NewOwnerAppID != "910000000000001" || p.Metadata != "escalated: refund" {
				t.Errorf("%+v", p)
			}
		}},
		{"pass from idle (null previous owner, numeric new owner)", wrap(`{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767226500001,"pass_thread_control":{"previous_owner_app_id":null,"new_owner_app_id":910000000000001}}`),
			func(t *testing.T, m Messaging) {
				p := m.PassThreadControl
				if p == nil || p.PreviousOwnerAppID != "" || p.NewOwnerAppID != "910000000000001" {
					t.Errorf("%+v", p)
				}
			}},
		{"take thread control", wrap(exTake), func(t *testing.T, m Messaging) {
			p := m.TakeThreadControl
			if p == nil || p.PreviousOwnerAppID != "910000000000001" || p.NewOwnerAppID != InstagramInboxAppID || p.Metadata != "agent took over" {
				t.Errorf("%+v", p)
			}
		}},
		{"request thread control", wrap(exRequest), func(t *testing.T, m Messaging) {
			if p := m.RequestThreadControl; p == nil || p.RequestedOwnerAppID != "910000000000003" || p.Metadata != "please hand over" {
				t.Errorf("%+v", p)
			}
		}},
		{"app roles without sender", wrap(exAppRoles), func(t *testing.T, m Messaging) {
			if m.Sender.ID != "" || !reflect.DeepEqual(m.AppRoles, map[string][]string{"910000000000001": {"primary_receiver"}}) {
				t.Errorf("%+v", m)
			}
		}},
		{"optin kept raw", wrap(`{"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1767226800001,"optin":{"type":"notification_messages","payload":"x"}}`),
			func(t *testing.T, m Messaging) {
				if !strings.Contains(string(m.Optin), "notification_messages") || m.Unknown != nil {
					t.Errorf("%+v", m)
				}
			}},
		{"unknown keys listed", wrap(`{"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1767226800002,"message_delivery":{"mids":["a"]},"policy_enforcement":{"action":"block"},"read":{"mid":"x"}}`),
			func(t *testing.T, m Messaging) {
				if !reflect.DeepEqual(m.Unknown, []string{"message_delivery", "policy_enforcement"}) || m.Read == nil {
					t.Errorf("%+v", m)
				}
			}},
		{"numeric ids", `{"object":"instagram","entry":[{"id":17841400000000001,"time":1767225600123,"messaging":[{"sender":{"id":6871234500000001},"recipient":{"id":17841400000000001},"timestamp":1767225599871,"message":{"mid":"m","referral":{"ad_id":120200000000000001}}}]}]}`,
			func(t *testing.T, m Messaging) {
				if m.Sender.ID != "6871234500000001" || m.Recipient.ID != "17841400000000001" || m.Message.Referral.AdID != "120200000000000001" {
					t.Errorf("%+v", m)
				}
			}},
		{"dashboard test: page object, string seconds", exDashboardPage, func(t *testing.T, m Messaging) {
			if m.Timestamp != 1527459824000 || m.Message.MID != "random_mid" {
				t.Errorf("%+v", m)
			}
		}},
		{"wrong field types are skipped, rest kept", wrap(`{"sender":{"id":"1"},"recipient":"oops","timestamp":true,"message":{"mid":"keep","text":5,"is_echo":"yes","attachments":{"type":"image"},"quick_reply":"x"}}`),
			func(t *testing.T, m Messaging) {
				if m.Sender.ID != "1" || m.Recipient.ID != "" || m.Timestamp != 0 || m.Message == nil || m.Message.MID != "keep" || m.Message.Text != "" {
					t.Errorf("%+v %+v", m, m.Message)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, firstEvent(t, tc.body)) })
	}
}

func TestParseWebhookEnvelopeShapes(t *testing.T) {
	t.Run("standby", func(t *testing.T) {
		env, err := ParseWebhook([]byte(exStandby))
		if err != nil {
			t.Fatal(err)
		}
		e := env.Entry[0]
		if e.Messaging != nil || len(e.Standby) != 1 || e.Standby[0].Message.Text != "hello? anyone there?" || e.Time != 1767226900500 {
			t.Errorf("%+v", e)
		}
	})
	t.Run("dashboard changes", func(t *testing.T) {
		env, err := ParseWebhook([]byte(exDashboardChanges))
		if err != nil {
			t.Fatal(err)
		}
		e := env.Entry[0]
		if e.ID != "0" || e.Time != 1527459824000 || len(e.Changes) != 1 || !strings.Contains(string(e.Changes[0]), `"field":"messages"`) {
			t.Errorf("%+v", e)
		}
	})
	t.Run("batched entries and events", func(t *testing.T) {
		body := `{"object":"instagram","entry":[
		 {"id":"17841400000000001","time":"1767225600123","messaging":[` + exRead + `,` + exReact + `]},
		 {"id":"17841400000000099","time":1767225600124,"messaging":[` + exPostback + `],"standby":[` + exUnsend + `]}]}`
		env, err := ParseWebhook([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if len(env.Entry) != 2 || len(env.Entry[0].Messaging) != 2 || env.Entry[1].ID != "17841400000000099" ||
			len(env.Entry[1].Standby) != 1 || env.Entry[0].Time != 1767225600123 {
			t.Errorf("%+v", env)
		}
	})
	t.Run("unknown top-level and entry keys", func(t *testing.T) {
		env, err := ParseWebhook([]byte(`{"object":"instagram","new":1,"entry":[{"id":"1","time":1,"hop":true,"messaging":[]}]}`))
		if err != nil || env.Entry[0].ID != "1" {
			t.Errorf("%+v %v", env, err)
		}
	})
	t.Run("entry not an array", func(t *testing.T) {
		env, err := ParseWebhook([]byte(`{"object":"instagram","entry":"nope"}`))
		if err != nil || env.Entry != nil {
			t.Errorf("%+v %v", env, err)
		}
	})
}

func TestParseWebhookErrors(t *testing.T) {
	tests := []struct{ name, body string }{
		{"empty", ""},
		{"invalid json", `{"object":"instagram","entry":[`},
		{"trailing garbage", `{"object":"instagram"} x`},
		{"invalid utf-8", "{\"object\":\"instagram\",\"x\":\"\xff\"}"},
		{"missing object", `{"entry":[]}`},
		{"empty object", `{"object":"","entry":[]}`},
		{"object not a string", `{"object":5}`},
		{"array", `[{"object":"instagram"}]`},
		{"string", `"instagram"`},
		{"null", `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := ParseWebhook([]byte(tc.body))
			if !errors.Is(err, ErrInvalidWebhook) || env != nil {
				t.Errorf("got %+v, %v", env, err)
			}
		})
	}
}

func TestIDUnmarshal(t *testing.T) {
	tests := map[string]ID{
		`"17841400000000001"`: "17841400000000001",
		`17841400000000001`:   "17841400000000001",
		`1.7e3`:               "1700",
		`-5`:                  "-5",
		`null`:                "",
		`true`:                "",
		`{"a":1}`:             "",
	}
	for in, want := range tests {
		var id ID
		if err := id.UnmarshalJSON([]byte(in)); err != nil || id != want || id.String() != string(want) {
			t.Errorf("%s → %q, %v; want %q", in, id, err, want)
		}
	}
}
