package instagram

import "encoding/json"

// MessageAttachment is one received attachment. Type is open-ended (image,
// video, audio, file, share, story_mention, ig_reel, reel, ig_post,
// ig_story, ephemeral, unsupported_type, template, fallback…; trap 12):
// keep unknown types and render a placeholder. Payload is kept verbatim;
// use the helpers to read it.
type MessageAttachment struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// attachmentPayload holds the payload keys the helpers know. Shapes are
// read leniently: a key of an unexpected type reads as empty.
//
// Spec gap (§3.2): the ig_story key (story_media_url) and the reel id key
// (reel_video_id) are UNCERTAIN; we read those names, accept the id as a
// string or number, and URL() falls back from url to story_media_url.
type attachmentPayload struct {
	URL           string `json:"url"`
	StoryMediaURL string `json:"story_media_url"` // ig_story (§3.2, UNCERTAIN)
	Title         string `json:"title"`
	ReelVideoID   ID     `json:"reel_video_id"` // ig_reel/reel (§3.2, UNCERTAIN)
}

func (a MessageAttachment) payload() attachmentPayload {
	var p attachmentPayload
	if len(a.Payload) > 0 {
		_ = json.Unmarshal(a.Payload, &p) // lenient: partial results are fine
	}
	return p
}

// URL returns the media URL (payload.url, else payload.story_media_url), or
// "" when there is none (ephemeral, unsupported_type with url:null). The
// URL is a signed CDN link that expires (trap 14): store it, fetch on view.
func (a MessageAttachment) URL() string {
	p := a.payload()
	if p.URL != "" {
		return p.URL
	}
	return p.StoryMediaURL
}

// Title returns payload.title (reels), or "".
func (a MessageAttachment) Title() string { return a.payload().Title }

// ReelVideoID returns payload.reel_video_id (string or number), or "".
func (a MessageAttachment) ReelVideoID() string { return string(a.payload().ReelVideoID) }
