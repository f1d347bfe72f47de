package rocketchat

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
)

// UploadResult identifies the message and file created by Upload.
type UploadResult struct{ MessageID, FileID, FileName string }

// Upload sends a file into the room as the visitor
// (POST livechat/upload/:rid, multipart). The file goes in the part named
// "file" (trap 23) with the x-visitor-token header; msg, when non-empty, is
// the only extra field sent (others, like groupable, make the server fail).
// The body is streamed, not buffered; if the call fails early, body may be
// read once more after Upload returns, so close it after the call. Rejections come back as *Error with
// Reason set (error-type-not-allowed, error-file-upload-disabled…) or 403
// "unauthorized" for an unknown visitor/room (trap 3).
func (c *Client) Upload(ctx context.Context, visitorToken, rid, filename, contentType string, body io.Reader, msg string) (UploadResult, error) {
	if visitorToken == "" || rid == "" || filename == "" || body == nil {
		return UploadResult{}, fmt.Errorf("%w: empty visitor token, room id, file name or body", ErrInvalidRequest)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeUpload(mw, filename, contentType, body, msg))
	}()
	// If the request ends before the writer is done (early error answer,
	// cancellation), unblock the writer goroutine.
	defer pr.Close()

	var out struct {
		ID   string `json:"_id"`
		File *struct {
			ID   string `json:"_id"`
			Name string `json:"name"`
		} `json:"file"`
		Files []struct {
			ID   string `json:"_id"`
			Name string `json:"name"`
		} `json:"files"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "livechat/upload/" + url.PathEscape(rid),
		raw: pr, contentType: mw.FormDataContentType(),
		header:  http.Header{headerVisitorToken: {visitorToken}},
		secrets: []string{visitorToken}}, &out)
	if err != nil {
		return UploadResult{}, err
	}
	res := UploadResult{MessageID: out.ID}
	switch {
	case out.File != nil:
		res.FileID, res.FileName = out.File.ID, out.File.Name
	case len(out.Files) > 0:
		res.FileID, res.FileName = out.Files[0].ID, out.Files[0].Name
	}
	return res, nil
}

// writeUpload writes the multipart body: the file part first, as in the
// spec's example, then the optional msg field.
//
// Spec gap (§6): the caption could go in "description" (attachment
// description) or "msg" (message text); the signature's msg maps to "msg",
// the field §6 says survives into the saved message.
func writeUpload(mw *multipart.Writer, filename, contentType string, body io.Reader, msg string) error {
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", multipart.FileContentDisposition("file", filename))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, body); err != nil {
		return err
	}
	if msg != "" {
		if err := mw.WriteField("msg", msg); err != nil {
			return err
		}
	}
	return mw.Close()
}
