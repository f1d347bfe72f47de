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

	"github.com/igdirect/bridge/appsettings"
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

// UploadToRoom copies one customer media item from Meta's CDN into the room, exactly once:
// an upload has no idempotency key, so it runs under a delivery intent, and an earlier
// attempt whose outcome is unknown (the worker died, the activity timed out) is settled by
// looking for the file in the room (its name derives from the Instagram mid) before
// uploading again. What the settings refuse, what is too large, and what Meta no longer
// serves is posted as a message saying what it was, why it is not shown, and the link.
func (a *Activities) UploadToRoom(ctx context.Context, in workflows.UploadInput) (workflows.PostToRoomResult, error) {
	defer keepAlive(ctx)()
	token := a.visitorToken(in.PageID, in.IGSID)
	key := uploadKey(in.Item.MID)
	for attempt := 0; attempt < 2; attempt++ {
		d, err := a.once(ctx, key, in.PageID, in.IGSID, func() (string, error) {
			return a.uploadMedia(ctx, token, in)
		})
		switch refused := d.refused; {
		case err != nil:
			return workflows.PostToRoomResult{}, err
		case rocketchat.IsRoomClosed(refused) || rocketchat.IsInvalidRoom(refused) || isForbidden(refused):
			return workflows.PostToRoomResult{RoomClosed: true}, nil
		case refused != nil:
			return workflows.PostToRoomResult{}, rcError(refused)
		case !d.unknown:
			a.delivered("to_rocketchat", workflows.ItemUpload)
			return workflows.PostToRoomResult{Posted: 1}, nil
		}
		id, found, err := a.findUpload(ctx, token, in.RoomID, mediaBaseName(in.Item.MID), roomMessageID(in.Item.MID))
		if err != nil {
			return workflows.PostToRoomResult{}, rcError(err)
		}
		if a.Metrics != nil {
			a.Metrics.UnknownOutcomes.WithLabelValues(map[bool]string{true: "upload_found", false: "upload_again"}[found]).Inc()
		}
		// Found: done as that message; not there: not delivered, upload again.
		if err := a.Store.FinishIntent(ctx, key, found, id); err != nil {
			return workflows.PostToRoomResult{}, err
		}
		if found {
			return workflows.PostToRoomResult{Posted: 1}, nil
		}
	}
	return workflows.PostToRoomResult{}, errors.New("upload outcome could not be settled")
}

// uploadKey is the delivery key of the upload of a customer's file (its room item's MID).
func uploadKey(mid string) string { return "upload:" + mid }

// findUpload looks for the visitor's file named base.* in the room, or the link posted
// instead of it (the message fallbackID: the CDN could not be read, file sharing is off),
// newest first: the room may have moved on since (agents keep writing while the upload is
// settled), so it reads back up to historyPagesLocal pages (the upload was made moments
// before). Found by the simulator: an attempt that posted the link and died left the link,
// and the next attempt, finding no file, copied the file too.
func (a *Activities) findUpload(ctx context.Context, token, rid, base, fallbackID string) (string, bool, error) {
	var end time.Time
	for page := 0; page < historyPagesLocal; page++ {
		msgs, raw, err := a.RC.HistoryPage(ctx, token, rid, end, historyPage)
		if err != nil {
			return "", false, err
		}
		for _, m := range msgs {
			if m.ID == fallbackID || m.File != nil && m.Token == token && strings.TrimSuffix(m.File.Name, path.Ext(m.File.Name)) == base {
				return m.ID, true, nil
			}
		}
		if raw < historyPage || len(msgs) == 0 {
			break
		}
		end = msgs[len(msgs)-1].TS.Add(time.Millisecond) // messages of the same millisecond are read twice, harmlessly
	}
	return "", false, nil
}

// mediaFallbackText is the room message for media that is not copied: what it was (the
// customer's text and the link, from the workflow) and why not. All of it goes through
// safetext, like every other message and note the bot posts: the customer's words and
// Meta's answers may hold mentions or links.
func mediaFallbackText(itemText, why string) string {
	return safetext.Neutralize(itemText + "\n_(not shown here: " + why + ")_")
}

// uploadMedia copies the media into the room, streaming it (cdnfetch: Meta's hosts only,
// public addresses only, size and rate limits, no copy in memory); it returns the room
// message's id.
func (a *Activities) uploadMedia(ctx context.Context, token string, in workflows.UploadInput) (string, error) {
	it := in.Item
	fallback := func(why string) (string, error) {
		id := roomMessageID(it.MID)
		_, err := a.RC.SendMessage(ctx, token, in.RoomID, id, mediaFallbackText(it.Text, why))
		return id, err
	}
	settings, err := a.appSettings(ctx)
	if err != nil {
		return "", err
	}
	if !settings.FileUploadEnabled {
		return fallback("file sharing is turned off")
	}
	// Network and server errors are retried a few times, then the link is shown instead:
	// media must never hold up the conversation.
	retryable := func(err error) (string, error) {
		if attemptOf(ctx) >= cdnAttempts {
			a.logger(ctx).Warn("Meta's CDN unreachable; posting the link instead", "error", err)
			return fallback("Meta's CDN could not be reached")
		}
		return "", err
	}
	tooLarge := "larger than the " + humanBytes(settings.MaxUploadBytes) + " limit"
	media, err := a.CDN.Fetch(ctx, it.URL, settings.MaxUploadBytes)
	var status *cdnfetch.StatusError
	switch {
	case errors.Is(err, cdnfetch.ErrRefused):
		a.logger(ctx).Warn("Media URL refused", "error", err)
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
	// Streamed from the CDN into the upload. If the CDN side fails midway (over the limit,
	// too slow), the upload is aborted with it.
	up, err := a.RC.Upload(ctx, token, in.RoomID, mediaFileName(it.MID, media.Type), media.Type, media, it.Caption)
	if cerr := media.Err(); cerr != nil {
		if errors.Is(cerr, cdnfetch.ErrTooLarge) {
			return fallback(tooLarge)
		}
		return retryable(cerr)
	}
	if err == nil {
		return up.MessageID, nil
	}
	if uploadOutcomeUnknown(err) {
		// The file may be in the room (Rocket.Chat took it, its answer was lost): the room's
		// history settles it before any second upload (issue 19: files were posted twice).
		return "", fmt.Errorf("%w: %w", errOutcomeUnknown, err)
	}
	if rocketchat.IsTransient(err) || rocketchat.IsRoomClosed(err) || rocketchat.IsInvalidRoom(err) || isForbidden(err) {
		return "", err
	}
	return fallback("Rocket.Chat refused the file (" + rcErrorCode(err) + ")")
}

// uploadOutcomeUnknown: an upload failure after which the file may still be in the room — a
// timeout, a cut connection, a server error or an unreadable answer; not a refusal with an
// error body, a rate limit, or a failure to connect at all.
func uploadOutcomeUnknown(err error) bool {
	if !rocketchat.IsTransient(err) || rocketchat.IsRateLimited(err) {
		return false
	}
	var rcErr *rocketchat.Error
	if errors.As(err, &rcErr) {
		return true // 5xx or an undecodable 2xx
	}
	msg := err.Error()
	return !strings.Contains(msg, "connection refused") && !strings.Contains(msg, "no such host")
}

func isForbidden(err error) bool {
	var rcErr *rocketchat.Error
	return errors.As(err, &rcErr) && rcErr.HTTPStatus == http.StatusForbidden // the room is not open for this visitor
}

// mediaBaseName names the uploaded file of a media item after its key, so a file already
// in the room is recognised.
func mediaBaseName(mid string) string { return MediaBaseName(mid) }

// MediaBaseName is the name (without extension) of the file a customer's media item (its
// part key, see workflows) is uploaded into the room as.
func MediaBaseName(mid string) string {
	sum := sha256.Sum256([]byte(mid))
	return "instagram-" + hex.EncodeToString(sum[:6])
}

func mediaFileName(mid, ctype string) string {
	name := mediaBaseName(mid)
	if exts, _ := mime.ExtensionsByType(ctype); len(exts) > 0 {
		return asciiName(name + exts[len(exts)-1])
	}
	return name
}

// agentFile is an agent's file stored for Meta to fetch: its Send API type and signed URL.
type agentFile struct{ kind, url string }

// prepareAgentFile gets an agent's file ready for Instagram: it checks the settings and
// Instagram's formats and sizes (spec §4.2), copies the file from Rocket.Chat (only from a
// validated /file-upload/<id>/<name> path: the bot's credentials go with the download), checks
// that what came is what the message declared, stores it for a short time, and gives Meta
// a signed, expiring URL under PUBLIC_URL to fetch it from. why is set when the file cannot
// go to Instagram.
func (a *Activities) prepareAgentFile(ctx context.Context, m rocketchat.HistoryMessage, settings appsettings.Settings) (agentFile, string, error) {
	f := m.File
	if !settings.FileUploadEnabled {
		return agentFile{}, "file sharing is turned off in the settings", nil
	}
	if a.MediaKey == nil || a.PublicURL == "" {
		return agentFile{}, "media URLs are not configured (PUBLIC_URL)", nil
	}
	if m.FilePath == "" {
		return agentFile{}, "the file's link is not a Rocket.Chat upload (/file-upload/<id>/<name>), so it was not fetched", nil
	}
	ctype := mediaType(f.Type)
	if ctype == "" {
		ctype = mediaType(mime.TypeByExtension(path.Ext(f.Name)))
	}
	kind, limit := instagramMedia(ctype)
	if kind == "" {
		return agentFile{}, fmt.Sprintf("Instagram does not take %s files (images: PNG, JPEG up to 8 MB; video: MP4, OGG, AVI, MOV, WebM, audio: AAC, M4A, WAV, MP4 and PDF files up to 25 MB)", orUnknown(ctype)), nil
	}
	if !settings.AcceptsMediaType(ctype) {
		return agentFile{}, ctype + " is not an accepted media type (accepted_media_types)", nil
	}
	limit = min(limit, settings.MaxUploadBytes)
	if f.Size > limit {
		return agentFile{}, fmt.Sprintf("the file is %s; the limit for %s is %s", humanBytes(f.Size), kind, humanBytes(limit)), nil
	}
	// Download accepts nothing but /file-upload/<id>/<name>, and only the type the file was
	// declared with.
	body, _, err := a.RC.Download(ctx, m.FilePath, ctype)
	switch {
	case errors.Is(err, rocketchat.ErrBadFilePath):
		return agentFile{}, "the file's link is not a Rocket.Chat upload (/file-upload/<id>/<name>), so it was not fetched", nil
	case errors.Is(err, rocketchat.ErrFileTypeMismatch):
		return agentFile{}, "Rocket.Chat served the file as another type than " + ctype + ", so it was not sent", nil
	case err != nil && rocketchat.IsTransient(err):
		return agentFile{}, "", err
	case err != nil:
		return agentFile{}, "the file could not be read from Rocket.Chat: " + rcErrorCode(err), nil
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	body.Close()
	if err != nil {
		return agentFile{}, "", fmt.Errorf("read file from Rocket.Chat: %w", err)
	}
	if int64(len(data)) > limit {
		return agentFile{}, fmt.Sprintf("the file is larger than the %s limit for %s", humanBytes(limit), kind), nil
	}
	sum := sha256.Sum256([]byte(m.ID + "\x00" + m.FilePath))
	id := hex.EncodeToString(sum[:12])
	exp := a.now().Add(mediaURLLifetime)
	if err := a.Store.PutMedia(ctx, store.Media{ID: id, ContentType: ctype, Filename: asciiName(f.Name), Data: data}, exp); err != nil {
		return agentFile{}, "", err
	}
	return agentFile{kind: kind, url: a.PublicURL + "/media/" + mediaurl.Sign(a.MediaKey, id, exp) + "/" + url.PathEscape(asciiName(f.Name))}, "", nil
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
