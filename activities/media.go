package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/internal/cdnfetch"
	"github.com/igdirect/bridge/mediaurl"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/safetext"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// cdnAttempts bounds the attempts to fetch a customer's media before its link is posted.
const cdnAttempts = 3

// mediaURLLifetime: Meta fetches attachment media while handling the send, so a short
// lifetime is enough; an hour covers its retries.
const mediaURLLifetime = time.Hour

// uploadMedia copies the customer's media from Meta's CDN into the room, streaming it
// (cdnfetch: Meta's hosts only, public addresses only, size and rate limits). What the
// settings refuse, what is too large, what is not on Meta's CDN, and what Meta no longer
// serves (CDN links expire) is posted as a message saying what it was, why it is not
// shown, and the link.
func (a *Activities) uploadMedia(ctx context.Context, token string, in workflows.PostToRoomInput, it workflows.RoomItem) error {
	fallback := func(why string) error {
		_, err := a.RC.SendMessage(ctx, token, in.RoomID, roomMessageID(it.MID), it.Text+"\n_(not shown here: "+safetext.Neutralize(why)+")_")
		return err
	}
	settings, err := a.appSettings(ctx)
	if err != nil {
		return err
	}
	if !settings.FileUploadEnabled {
		return fallback("file sharing is turned off")
	}
	// Network and server errors are retried a few times, then the link is shown instead:
	// media must never hold up the conversation.
	retryable := func(err error) error {
		if activity.GetInfo(ctx).Attempt >= cdnAttempts {
			activity.GetLogger(ctx).Warn("Meta's CDN unreachable; posting the link instead", "error", err)
			return fallback("Meta's CDN could not be reached")
		}
		return err
	}
	tooLarge := "larger than the " + humanBytes(settings.MaxUploadBytes) + " limit"
	media, err := a.CDN.Fetch(ctx, it.URL, settings.MaxUploadBytes)
	var status *cdnfetch.StatusError
	switch {
	case errors.Is(err, cdnfetch.ErrRefused):
		activity.GetLogger(ctx).Warn("Media URL refused", "error", err)
		return fallback("the link does not point to Meta's media servers")
	case errors.Is(err, cdnfetch.ErrTooLarge):
		return fallback(tooLarge)
	case errors.Is(err, cdnfetch.ErrType):
		return fallback("Meta did not serve it as a media type that can be shown")
	case errors.As(err, &status) && (status.Code == http.StatusForbidden || status.Code == http.StatusNotFound || status.Code == http.StatusGone):
		return fallback("the link has expired or the media was deleted")
	case errors.As(err, &status) && status.Code >= 500:
		return retryable(err)
	case errors.As(err, &status):
		return fallback(fmt.Sprintf("Meta answered HTTP %d", status.Code))
	case err != nil:
		return retryable(fmt.Errorf("fetch media from Meta's CDN: %w", err))
	}
	defer media.Close()
	if !settings.AcceptsMediaType(media.Type) {
		return fallback(media.Type + " is not an accepted media type")
	}
	// Streamed from the CDN into the upload: no copy of the file in memory. If the CDN side
	// fails midway (over the limit, too slow), the upload is aborted with it.
	_, err = a.RC.Upload(ctx, token, in.RoomID, fileName(it.URL, media.Type), media.Type, media, it.Caption)
	if cerr := media.Err(); cerr != nil {
		if errors.Is(cerr, cdnfetch.ErrTooLarge) {
			return fallback(tooLarge)
		}
		return retryable(cerr)
	}
	if err == nil || rocketchat.IsTransient(err) || rocketchat.IsRoomClosed(err) || rocketchat.IsInvalidRoom(err) {
		return err
	}
	var rcErr *rocketchat.Error
	if errors.As(err, &rcErr) && rcErr.HTTPStatus == http.StatusForbidden {
		return err // the room is not open for this visitor any more
	}
	return fallback("Rocket.Chat refused the file (" + rcErrorCode(err) + ")")
}

// sendFile sends an agent's file to Instagram: it checks the settings and Instagram's
// formats and sizes (spec §4.2), copies the file from Rocket.Chat, stores it for a short
// time, and gives Meta a signed, expiring URL under PUBLIC_URL to fetch it from.
func (a *Activities) sendFile(ctx context.Context, pageID, token string, in workflows.SendInput, settings appsettings.Settings, req instagram.SendRequest) (string, error) {
	f := in.File
	if !settings.FileUploadEnabled {
		return "", rejected("file sharing is turned off in the settings")
	}
	if a.MediaKey == nil || a.PublicURL == "" {
		return "", rejected("media URLs are not configured (PUBLIC_URL)")
	}
	ctype := mediaType(f.Type)
	if ctype == "" {
		ctype = mediaType(mime.TypeByExtension(path.Ext(f.Name)))
	}
	kind, limit := instagramMedia(ctype)
	if kind == "" {
		return "", rejected(fmt.Sprintf("Instagram does not take %s files (images: PNG, JPEG up to 8 MB; video: MP4, OGG, AVI, MOV, WebM, audio: AAC, M4A, WAV, MP4 and PDF files up to 25 MB)", orUnknown(ctype)))
	}
	limit = min(limit, settings.MaxUploadBytes)
	if f.Size > limit {
		return "", rejected(fmt.Sprintf("the file is %s; the limit for %s is %s", humanBytes(f.Size), kind, humanBytes(limit)))
	}
	// The path came through a webhook and the workflow: Download accepts nothing but
	// /file-upload/<id>/<name>, and only the type the file was declared with.
	body, _, err := a.RC.Download(ctx, f.Path, ctype)
	switch {
	case errors.Is(err, rocketchat.ErrBadFilePath):
		return "", rejected("the file's link is not a Rocket.Chat upload (/file-upload/<id>/<name>), so it was not fetched")
	case errors.Is(err, rocketchat.ErrFileTypeMismatch):
		return "", rejected("Rocket.Chat served the file as another type than " + ctype + ", so it was not sent")
	case err != nil && rocketchat.IsTransient(err):
		return "", err
	case err != nil:
		return "", rejected("the file could not be read from Rocket.Chat: " + rcErrorCode(err))
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	body.Close()
	if err != nil {
		return "", fmt.Errorf("read file from Rocket.Chat: %w", err)
	}
	if int64(len(data)) > limit {
		return "", rejected(fmt.Sprintf("the file is larger than the %s limit for %s", humanBytes(limit), kind))
	}
	sum := sha256.Sum256([]byte(in.MessageID + "\x00" + f.Path))
	id := hex.EncodeToString(sum[:12])
	exp := time.Now().Add(mediaURLLifetime)
	if err := a.Store.PutMedia(ctx, store.Media{ID: id, ContentType: ctype, Filename: asciiName(f.Name), Data: data}, exp); err != nil {
		return "", err
	}
	req.Text, req.QuickReplies = "", nil
	req.Attachment = &instagram.Attachment{Type: kind,
		URL: a.PublicURL + "/media/" + mediaurl.Sign(a.MediaKey, id, exp) + "/" + url.PathEscape(asciiName(f.Name))}
	if kind == "video" || kind == "audio" {
		if err := a.limiters.get(in.PageID, true).Wait(ctx); err != nil {
			return "", err
		}
	}
	res, err := a.IG.Send(ctx, pageID, token, req)
	a.sendResult(in.PageID, err)
	if err != nil {
		return "", a.sendError(ctx, in.PageID, err)
	}
	a.delivered("to_instagram", kind)
	return res.MessageID, nil
}

// instagramMedia maps a MIME type to the Send API attachment type and its size limit.
func instagramMedia(ctype string) (string, int64) {
	const mb = 1 << 20
	switch ctype {
	case "image/png", "image/jpeg": // GIF only through the upload API (spec §4.2)
		return "image", 8 * mb
	case "video/mp4", "video/ogg", "video/avi", "video/x-msvideo", "video/quicktime", "video/webm":
		return "video", 25 * mb
	case "audio/aac", "audio/mp4", "audio/x-m4a", "audio/m4a", "audio/wav", "audio/x-wav", "audio/wave":
		return "audio", 25 * mb
	case "application/pdf":
		return "file", 25 * mb
	}
	return "", 0
}

func mediaType(contentType string) string {
	t, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	return t
}

// fileName invents a name for media from Meta's CDN, whose URLs carry no file name.
func fileName(rawURL, ctype string) string {
	name := "instagram-media"
	if u, err := url.Parse(rawURL); err == nil {
		if id := u.Query().Get("asset_id"); id != "" {
			name = "instagram-" + id
		} else if b := path.Base(u.Path); b != "" && b != "/" && b != "." {
			name = strings.TrimSuffix(b, path.Ext(b))
		}
	}
	if exts, _ := mime.ExtensionsByType(ctype); len(exts) > 0 {
		return asciiName(name + exts[len(exts)-1])
	}
	return asciiName(name)
}

// asciiName keeps file names ASCII: Meta's upload does not take other characters (§4.2).
func asciiName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "file"
	}
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func orUnknown(s string) string {
	if s == "" {
		return "files of unknown type"
	}
	return s
}

func rejected(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, workflows.ErrSendRejected, nil)
}
