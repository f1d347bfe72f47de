package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
)

var (
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 2048)...)
	pdfBytes = append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 4096)...)
)

// uploads returns the files uploaded to a room (customer media copied from Meta's CDN).
func uploads(s *stack, rid string) []rocketchat.Message {
	var out []rocketchat.Message
	for _, m := range s.rc.Messages(rid) {
		if m.File != nil && !m.Deleted {
			out = append(out, m)
		}
	}
	return out
}

// TestInboundMediaAndNotes sends one message mixing an accepted image, an unknown attachment
// type, a refused media type, a file over the size limit and an expired CDN link: the image
// is uploaded to the room, everything else becomes a clear message, and the batch succeeds.
func TestInboundMediaAndNotes(t *testing.T) {
	s := requireStack(t)
	require.NoError(t, s.setSetting("accepted_media_types", "image/*,application/pdf"))
	require.NoError(t, s.setSetting("max_upload_bytes", "3000"))
	t.Cleanup(func() {
		_ = s.setSetting("accepted_media_types", "image/*,video/*,audio/*,application/pdf")
		_ = s.setSetting("max_upload_bytes", "26214400")
	})
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Media"})

	image, _ := s.meta.NewMediaAttachment(meta.Media{Type: "image", ContentType: "image/png", Data: pngBytes})
	video, _ := s.meta.NewMediaAttachment(meta.Media{Type: "video", ContentType: "video/mp4", Data: []byte("not accepted")})
	bigPDF, _ := s.meta.NewMediaAttachment(meta.Media{Type: "file", ContentType: "application/pdf", Data: pdfBytes})
	gone, goneID := s.meta.NewMediaAttachment(meta.Media{Type: "image", ContentType: "image/png", Data: pngBytes})
	s.meta.DeleteMedia(goneID)
	hologram := map[string]any{"type": "hologram", "payload": map[string]any{"url": "https://example.invalid/h"}}
	ev := s.meta.NewEvent(account, igsid, time.Now(), "message", map[string]any{
		"mid": s.meta.NewMID(account, igsid), "text": "look at these",
		"attachments": []any{image, hologram, video, bigPDF, gone},
	})
	require.Equal(t, http.StatusOK, deliver(t, s, entry(ev)))

	room := waitRoom(t, s, igsid, 1)
	var texts []string
	eventually(t, 20*time.Second, "the message, the upload and four notes in the room", func() bool {
		texts = roomTexts(s, room.ID)
		return len(uploads(s, room.ID)) == 1 && len(visitorMessages(s, room.ID)) >= 6
	})
	got := strings.Join(texts, "\n")
	require.Equal(t, pngBytes, uploads(s, room.ID)[0].File.Data, "the image is in the room, byte for byte")
	require.Contains(t, got, "look at these")
	require.Contains(t, got, `kind not supported yet ("hologram")`)
	require.Contains(t, got, "video/mp4 is not an accepted media type")
	require.Contains(t, got, "larger than the 3 KB limit")
	require.Contains(t, got, "the link has expired or the media was deleted")
	recordHistories(t, s, account, igsid, "media-uploads")
}

// TestInboundMediaOutsideMetasCDNIsNotFetched: a signed webhook whose attachment URLs point
// inside the network (the cloud metadata service, ingress's own admin listener, a
// decimal-encoded loopback address, a file) or at active content gets the links shown as
// text, never fetched into the room.
func TestInboundMediaOutsideMetasCDNIsNotFetched(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "SSRF"})
	svg, _ := s.meta.NewMediaAttachment(meta.Media{Type: "image", ContentType: "image/svg+xml", Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)})
	att := func(u string) map[string]any {
		return map[string]any{"type": "image", "payload": map[string]any{"url": u}}
	}
	ev := s.meta.NewEvent(account, igsid, time.Now(), "message", map[string]any{
		"mid": s.meta.NewMID(account, igsid), "text": "links",
		"attachments": []any{att("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
			att(s.adminURL + "/admin/api/pages"), att("https://2130706433/x"), att("file:///etc/passwd"), svg},
	})
	require.Equal(t, http.StatusOK, deliver(t, s, entry(ev)))
	room := waitRoom(t, s, igsid, 1)
	eventually(t, 20*time.Second, "the message and five notes", func() bool {
		return len(visitorMessages(s, room.ID)) >= 6
	})
	got := strings.Join(roomTexts(s, room.ID), "\n")
	require.Equal(t, 4, strings.Count(got, "does not point to Meta's media servers"), got)
	require.Contains(t, got, "not serve it as a media type that can be shown")
	require.Empty(t, uploads(s, room.ID), "nothing was fetched into the room")
	require.NotContains(t, got, "102030405060708", "the admin API's answer is not in the room")
}

// TestAgentFileReachesInstagramThroughSignedURL: an agent shares a PDF; Meta fetches it from
// ingress's signed URL; a file type Instagram cannot take comes back as a note.
func TestAgentFileReachesInstagramThroughSignedURL(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Files"})
	s.meta.UserSendsText(account, igsid, "send me the invoice please")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	_, err := s.rc.AgentSendFile(room.ID, agentName, rocketchat.File{Name: "invoice 2026.pdf", Type: "application/pdf", Data: pdfBytes}, "here it is")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sent, err := s.meta.WaitForSent(ctx, account, igsid, 2)
	require.NoError(t, err)
	require.Equal(t, "Ana Agent: here it is", sent[0].Text)
	require.Equal(t, pdfBytes, sent[1].Media, "Meta fetched the agent's file from the signed URL")
	require.Contains(t, string(sent[1].Attachment), `"type":"file"`)

	checkMediaEndpoint(t, s, sent[1].Attachment)

	_, err = s.rc.AgentSendFile(room.ID, agentName, rocketchat.File{Name: "archive.zip", Type: "application/zip", Data: []byte("PK")}, "")
	require.NoError(t, err)
	eventually(t, 15*time.Second, "a note that Instagram does not take zip files", func() bool {
		return containsText(roomTexts(s, room.ID), "Not delivered to Instagram: file archive.zip — Instagram does not take application/zip files")
	})
	require.Len(t, s.meta.Sent(account, igsid), 2)
}

// TestAgentFileWithATraversalNameIsRefused: a file whose name is a path (an agent's upload
// named ../../api/v1/me) is not fetched with the bot's credentials: the agent gets a note,
// the customer nothing.
func TestAgentFileWithATraversalNameIsRefused(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Traversal"})
	s.meta.UserSendsText(account, igsid, "hello")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	_, err := s.rc.AgentSendFile(room.ID, agentName, rocketchat.File{Name: "../../api/v1/me", Type: "application/pdf", Data: pdfBytes}, "")
	require.NoError(t, err)
	eventually(t, 15*time.Second, "a note that the file was not fetched", func() bool {
		return containsText(roomTexts(s, room.ID), "not a Rocket.Chat upload")
	})
	require.Empty(t, s.meta.Sent(account, igsid), "nothing reached the customer")
}

// checkMediaEndpoint fetches the signed URL Meta was given, as a browser could, and
// tampered versions of it: the file is a sandboxed download, HEAD and Range work, and
// every malformed token is a clear 404 or 403.
func checkMediaEndpoint(t *testing.T, s *stack, attachment []byte) {
	t.Helper()
	var att struct {
		Payload struct {
			URL string `json:"url"`
		} `json:"payload"`
	}
	require.NoError(t, json.Unmarshal(attachment, &att), string(attachment))
	u := att.Payload.URL
	require.True(t, strings.HasPrefix(u, s.ingressURL+"/media/"), u)
	get := func(method, u string, hdr map[string]string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, u, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get(http.MethodGet, u, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, pdfBytes, body)
	require.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;"), resp.Header.Get("Content-Disposition"))
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	resp, body = get(http.MethodHead, u, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, body)
	require.Equal(t, strconv.Itoa(len(pdfBytes)), resp.Header.Get("Content-Length"))
	resp, body = get(http.MethodGet, u, map[string]string{"Range": "bytes=0-3"})
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, pdfBytes[:4], body)

	i := strings.LastIndex(u, "/")
	base, token, name := u[:strings.LastIndex(u[:i], "/")+1], u[strings.LastIndex(u[:i], "/")+1:i], u[i+1:]
	parts := strings.Split(token, ".")
	for what, bad := range map[string]string{
		"extra dot":         base + token + "./" + name,
		"%00":               base + parts[0] + "%00." + parts[1] + "." + parts[2] + "/" + name,
		"negative expiry":   base + parts[0] + ".-1." + parts[2] + "/" + name,
		"huge expiry":       base + parts[0] + ".99999999999." + parts[2] + "/" + name,
		"another name":      base + token + "/other.pdf",
		"altered signature": base + parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])) + "/" + name,
	} {
		resp, body := get(http.MethodGet, bad, nil)
		require.Contains(t, []int{http.StatusNotFound, http.StatusForbidden}, resp.StatusCode, what)
		require.NotContains(t, string(body), "%PDF", what)
	}
}

// TestQuickRepliesRoundTrip: the agent types buttons; the customer taps one; the room shows
// the title and the payload.
func TestQuickRepliesRoundTrip(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Buttons"})
	s.meta.UserSendsText(account, igsid, "hi")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	_, err := s.rc.AgentSend(room.ID, agentName, "What do you need? [[Track order|TRACK_ORDER]] [[Talk to a human being please]]")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sent, err := s.meta.WaitForSent(ctx, account, igsid, 1)
	require.NoError(t, err)
	require.Equal(t, "Ana Agent: What do you need?", sent[0].Text)
	require.JSONEq(t, `[{"content_type":"text","title":"Track order","payload":"TRACK_ORDER"},
		{"content_type":"text","title":"Talk to a human bein","payload":"Talk to a human being please"}]`, string(sent[0].QuickReplies))

	s.meta.UserSends(account, igsid, map[string]any{"text": "Track order", "quick_reply": map[string]any{"payload": "TRACK_ORDER"}})
	eventually(t, 15*time.Second, "the tapped button in the room", func() bool {
		return containsText(roomTexts(s, room.ID), "Track order\n_(quick reply, payload TRACK_ORDER)_")
	})

	// More than 13 buttons: a note for the agent instead of a failed send.
	var many strings.Builder
	for i := 0; i < 14; i++ {
		many.WriteString("[[b" + string(rune('a'+i)) + "]]")
	}
	_, err = s.rc.AgentSend(room.ID, agentName, "pick one "+many.String())
	require.NoError(t, err)
	eventually(t, 15*time.Second, "a note about the quick-reply limit", func() bool {
		return containsText(roomTexts(s, room.ID), "at most 13 quick replies")
	})
	require.Len(t, s.meta.Sent(account, igsid), 1)
}
