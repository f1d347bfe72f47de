package workflows

import (
	"fmt"
	"strings"
)

// This file turns Instagram events into what the agent sees in the room. Pure functions:
// the workflow calls them during replay too, so they must not depend on anything but their
// arguments. The first version's frozen code (v1_*.go) renders with them too, as do the
// small helpers it shares with this version (partKey, matches, reason…): they are the same
// as when it was frozen; one that must change for this version is copied into v1_*.go first.

// Texts shown in the room for customer actions.
const (
	unsentMarker   = "🚫 _Unsent by the customer_"
	storyExpiry    = "stories disappear after 24 hours"
	unknownQuote   = "an earlier message"
	maxQuoteLength = 80
)

// renderMessage is the text part of a customer message: quoted reply, text, quick-reply
// payload, referral; "" when the message has only attachments.
func renderMessage(ev InstagramEvent, quote func(mid string) string) string {
	var b strings.Builder
	switch {
	case ev.ReplyToStoryURL != "":
		b.WriteString(fmt.Sprintf("↩️ Replied to your story: %s (%s)\n", ev.ReplyToStoryURL, storyExpiry))
	case ev.ReplyToMID != "":
		b.WriteString(fmt.Sprintf("> %s\n", quote(ev.ReplyToMID)))
	}
	b.WriteString(ev.Text)
	if ev.QuickReplyPayload != "" && ev.QuickReplyPayload != ev.Text {
		b.WriteString(fmt.Sprintf("\n_(quick reply, payload %s)_", ev.QuickReplyPayload))
	}
	if ev.Unsupported {
		line(&b, "⚠️ The customer sent something Instagram cannot show here.")
	}
	if ev.Referral != nil {
		line(&b, renderReferral(*ev.Referral))
	}
	if b.Len() == 0 && len(ev.Attachments) == 0 {
		return "_(empty message)_"
	}
	return b.String()
}

// renderAttachment describes one attachment when it is not uploaded as a file: what it
// was, and the link where Meta gives one. Types nobody has seen yet still get a line.
func renderAttachment(a Attachment) string {
	link := func(prefix string) string {
		if a.URL == "" {
			return prefix
		}
		return prefix + ": " + a.URL
	}
	titled := func(kind string) string {
		if a.Title != "" {
			return fmt.Sprintf("%s “%s”", kind, a.Title)
		}
		return kind
	}
	switch a.Type {
	case "image":
		return link("🖼️ Image")
	case "video":
		return link("🎬 Video")
	case "audio":
		return link("🎤 Audio")
	case "file":
		return link("📎 File")
	case "share", "ig_post":
		return link("🔗 Shared a post")
	case "reel", "ig_reel":
		return link("🎞️ Shared " + titled("a reel"))
	case "ig_story":
		return link("📖 Shared a story") + " (" + storyExpiry + ")"
	case "story_mention":
		return link("📣 Mentioned you in their story") + " (" + storyExpiry + ")"
	case "ephemeral":
		return "👻 Sent a disappearing photo or video; Instagram does not pass view-once media to apps."
	case "unsupported_type":
		return "⚠️ Sent an attachment Instagram could not process."
	case "template":
		return link("🧩 Sent a template message")
	case "fallback":
		return link("🔗 " + titled("Shared a link"))
	}
	return link(fmt.Sprintf("📎 Sent an attachment of a kind not supported yet (%q)", a.Type))
}

func renderReaction(ev InstagramEvent, quote string) string {
	if ev.Action == "unreact" {
		return fmt.Sprintf("Removed their reaction to “%s”", quote)
	}
	emoji := ev.Emoji
	if emoji == "" {
		emoji = ev.Reaction
	}
	return fmt.Sprintf("%s Reacted to “%s”", emoji, quote)
}

func renderPostback(ev InstagramEvent) string {
	s := fmt.Sprintf("🔘 Tapped “%s”", ev.Title)
	if ev.Payload != "" {
		s += fmt.Sprintf(" _(payload %s)_", ev.Payload)
	}
	if ev.Referral != nil {
		s += "\n" + renderReferral(*ev.Referral)
	}
	return s
}

func renderReferral(r Referral) string {
	switch {
	case r.AdID != "" || strings.EqualFold(r.Source, "ADS"):
		s := "📣 Came from an ad"
		if r.AdTitle != "" {
			s += fmt.Sprintf(" “%s”", r.AdTitle)
		}
		if r.AdID != "" {
			s += " (ad " + r.AdID + ")"
		}
		if r.Ref != "" {
			s += ", ref " + r.Ref
		}
		return s
	case r.ProductID != "":
		return "🛍️ Came from the shop, product " + r.ProductID
	case r.Ref != "":
		return fmt.Sprintf("🔗 Came through an ig.me link (ref %s)", r.Ref)
	}
	return "🔗 Came through a link (" + strings.ToLower(r.Source) + ")"
}

// referralFields are the visitor custom fields that keep where a customer came from.
func referralFields(r Referral) map[string]string {
	f := map[string]string{"instagram_referral_source": r.Source}
	if r.Ref != "" {
		f["instagram_referral_ref"] = r.Ref
	}
	if r.AdID != "" {
		f["instagram_ad_id"] = r.AdID
	}
	if r.AdTitle != "" {
		f["instagram_ad_title"] = r.AdTitle
	}
	if r.ProductID != "" {
		f["instagram_product_id"] = r.ProductID
	}
	return f
}

// summary is the short form of a message used when something quotes it.
func summary(ev InstagramEvent) string {
	s := strings.TrimSpace(ev.Text)
	if s == "" && len(ev.Attachments) > 0 {
		s = "[" + ev.Attachments[0].Type + "]"
	}
	return truncate(strings.ReplaceAll(s, "\n", " "), maxQuoteLength)
}

func line(b *strings.Builder, s string) {
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	b.WriteString(s)
}

// isMedia reports whether an attachment is media to copy into the room (when the settings
// allow): files the customer sent, and the story they mentioned us in. Shares and reels
// stay links: they are Instagram posts, not the customer's files.
func isMedia(a Attachment) bool {
	switch a.Type {
	case "image", "video", "audio", "file", "story_mention", "ig_story":
		return a.URL != ""
	}
	return false
}

// mediaCaption goes with an uploaded media file where the file alone would not say what it is.
func mediaCaption(a Attachment) string {
	switch a.Type {
	case "story_mention":
		return "📣 Mentioned you in their story (" + storyExpiry + ")"
	case "ig_story":
		return "📖 Shared a story (" + storyExpiry + ")"
	}
	return ""
}
