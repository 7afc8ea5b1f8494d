package handlers

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/i18n"
	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

// attachField is the form field files come in, and the key of their
// error (beside the field on the page, in "fields" in JSON).
const attachField = "attachments"

// maxFormParts bounds the parts of one multipart body: the forms have a
// dozen fields and a few files, and a body of thousands of empty parts is
// an attack on the parser, not a form.
const maxFormParts = 100

// errBadMultipart is a body that says multipart but is not readable as
// such.
var errBadMultipart = malformed(msgUnreadable)

// streamForm reads a multipart/form-data body part by part: text fields
// into the returned values (together at most http.max_body_bytes), each
// file of the field "attachments" into up as it arrives. Nothing is held
// beyond a text field and a file's first bytes, and no temporary file is
// made, as Request.ParseMultipartForm would for large parts. A browser
// sends an empty file part when no file was chosen; it is skipped.
func (h *Handler) streamForm(c *gin.Context, up *service.Upload) (url.Values, error) {
	vals := url.Values{}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return vals, errBadMultipart
	}
	text := h.cfg.HTTP.MaxBodyBytes
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return vals, nil
		}
		if err != nil {
			return vals, partError(err)
		}
		if n >= maxFormParts {
			return vals, errBadMultipart
		}
		err = h.readPart(p, up, vals, &text)
		p.Close()
		if err != nil {
			return vals, err
		}
	}
}

// readPart takes one part: a file into up, text into vals within the
// remaining text allowance; other file fields are read past.
func (h *Handler) readPart(p *multipart.Part, up *service.Upload, vals url.Values, text *int64) error {
	name := p.FormName()
	if p.FileName() != "" || name == attachField {
		if name != attachField {
			_, err := io.Copy(io.Discard, p)
			return partError(err)
		}
		if p.FileName() == "" {
			// No file chosen: the browser still sends the empty part.
			_, err := io.Copy(io.Discard, p)
			return partError(err)
		}
		return partError(up.Add(p.FileName(), p))
	}
	b, err := io.ReadAll(io.LimitReader(p, *text+1))
	if err != nil {
		return partError(err)
	}
	*text -= int64(len(b))
	if *text < 0 {
		return errTooLarge
	}
	if name != "" {
		vals.Add(name, string(b))
	}
	return nil
}

// partError keeps what the handlers answer specifically (a refused file,
// a body over its limit, our own storage failing, a 500) and turns the
// parser's complaints, whose words are Go's and not for the subject
// (STYLE §5), into a 400.
func partError(err error) error {
	var ae *service.AttachmentError
	var mbe *http.MaxBytesError
	var he *httpError
	switch {
	case err == nil, errors.As(err, &ae), errors.As(err, &mbe), errors.As(err, &he),
		errors.Is(err, service.ErrAttachmentStore), errors.Is(err, service.ErrAttachmentsOff):
		return err
	}
	return fmt.Errorf("%w (%v)", errBadMultipart, err)
}

// attachProblem is what the subject is told about refused files, with
// the message tied to the file field, in l's language; nil for other
// errors.
func (h *Handler) attachProblem(l *i18n.Localizer, err error) *httpError {
	var ae *service.AttachmentError
	var mbe *http.MaxBytesError
	field := func(status int, code, msg string) *httpError {
		return &httpError{status, code, msg, map[string]string{attachField: msg}}
	}
	switch {
	case errors.As(err, &ae):
		switch {
		case errors.Is(ae.Err, service.ErrAttachmentTooLarge):
			return field(http.StatusRequestEntityTooLarge, "too_large", ae.Msg)
		case errors.Is(ae.Err, service.ErrAttachmentsClosed):
			return field(http.StatusConflict, "closed", ae.Msg)
		}
		return field(http.StatusUnprocessableEntity, "invalid", ae.Msg)
	case errors.As(err, &mbe):
		a := h.cfg.Attachments
		return field(http.StatusRequestEntityTooLarge, "too_large", l.T("attach.together_too_large",
			"Count", a.MaxFilesPerUpload, "MB", a.MaxFileBytes>>20))
	}
	return nil
}

// drainBody reads what is left of a refused upload (at most the route's
// body limit), so that a browser still sending it gets to read the page
// that says why instead of a reset connection.
func drainBody(c *gin.Context) {
	io.Copy(io.Discard, c.Request.Body)
}

// readRequestForm reads the public request form: url-encoded as before
// (http.max_body_bytes), or multipart with attachments (the larger limit
// the attachment settings give this route only). On false it answered
// already. The caller discards the upload unless it was recorded.
func (h *Handler) readRequestForm(c *gin.Context) (requestForm, *service.Upload, bool) {
	var f requestForm
	if c.ContentType() != binding.MIMEMultipartPOSTForm {
		limitBody(c, h.cfg.HTTP.MaxBodyBytes)
		if err := c.ShouldBindWith(&f, binding.Form); err != nil {
			h.fail(c, formError(err))
			return f, nil, false
		}
		return f, nil, true
	}
	limit := h.cfg.Attachments.BodyLimit(h.cfg.HTTP.MaxBodyBytes)
	limitBody(c, limit)
	h.allowUpload(c, limit)
	up, err := h.svc.NewFormUpload(h.language(c))
	if err != nil {
		drainBody(c)
		h.fail(c, err)
		return f, nil, false
	}
	vals, err := h.streamForm(c, up)
	// What was read is kept for the form shown again, even when a file
	// was refused part-way.
	if merr := binding.MapFormWithTag(&f, vals, "form"); merr != nil && err == nil {
		err = errBadMultipart
	}
	if err == nil {
		return f, up, true
	}
	up.Discard()
	drainBody(c)
	he := h.attachProblem(h.loc(c), err)
	if he == nil || wantsJSON(c) || !workflow.RequestType(f.Type).Valid() {
		h.fail(c, orProblem(he, err))
		return f, nil, false
	}
	h.renderForm(c, he.Status, f, he.Fields)
	return f, nil, false
}

// orProblem prefers the attachment problem, when there is one.
func orProblem(he *httpError, err error) error {
	if he != nil {
		return he
	}
	return err
}

// reattach adds a word beside the file field when the form is shown again
// for other errors: a browser never keeps chosen files, and neither do we.
func reattach(l *i18n.Localizer, errs map[string]string, up *service.Upload) map[string]string {
	if up.Len() > 0 && errs[attachField] == "" {
		errs[attachField] = l.T("form.reattach")
	}
	return errs
}

// uploadFromStatus takes files from the subject's status page: 303 back
// to the page, or the page with why the files were refused (nothing of
// them kept).
func (h *Handler) uploadFromStatus(c *gin.Context) {
	token := c.Param("token")
	limit := h.cfg.Attachments.BodyLimit(h.cfg.HTTP.MaxBodyBytes)
	limitBody(c, limit)
	h.allowUpload(c, limit)
	if c.ContentType() != binding.MIMEMultipartPOSTForm {
		drainBody(c)
		h.attachRefused(c, token, errBadMultipart)
		return
	}
	up, err := h.svc.StartStatusUpload(c.Request.Context(), token, h.language(c))
	if err != nil {
		drainBody(c)
		h.attachRefused(c, token, err)
		return
	}
	defer up.Discard()
	if _, err = h.streamForm(c, up); err == nil {
		_, err = h.svc.FinishStatusUpload(c.Request.Context(), up)
	}
	if err != nil {
		up.Discard()
		drainBody(c)
		h.attachRefused(c, token, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/status/"+url.PathEscape(token)+"?done=attach#attach")
}

// attachRefused shows the status page with why an upload was refused
// beside the file field; a link that does not work gets its own page.
func (h *Handler) attachRefused(c *gin.Context, token string, err error) {
	l := h.loc(c)
	he := h.attachProblem(l, err)
	if he == nil && errors.Is(err, models.ErrConflict) {
		msg := l.T("attach.changed")
		he = &httpError{http.StatusConflict, "conflict", msg, map[string]string{attachField: msg}}
	}
	if he == nil {
		if x := asHTTPError(err); x.Status == http.StatusBadRequest || x.Status == http.StatusRequestEntityTooLarge {
			msg := x.Message
			if key := pageMessages[msg]; key != "" {
				msg = l.T(key)
			}
			he = &httpError{x.Status, x.Code, msg, map[string]string{attachField: msg}}
		}
	}
	if he == nil {
		h.statusProblem(c, err)
		return
	}
	if wantsJSON(c) {
		h.fail(c, he)
		return
	}
	h.renderStatusWith(c, he.Status, token, map[string]any{"AttachError": he.Message})
}

// downloadAttachment gives staff one of the subject's files, decrypted,
// always as a download: never shown inline, never sniffed into something
// a browser would run.
func (h *Handler) downloadAttachment(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("att"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(c, errNotFound)
		return
	}
	r, a, err := h.svc.OpenAttachment(c.Request.Context(), c.Param("id"), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	defer r.Close()
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})
	if disp == "" {
		disp = "attachment"
	}
	c.Header("Content-Disposition", disp)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Header("Cache-Control", "no-store")
	c.DataFromReader(http.StatusOK, a.Size, a.ContentType, r, nil)
}

// staffAttachments lists a request's attachments for its file.
func (h *Handler) staffAttachments(c *gin.Context, requestID string) []models.Attachment {
	list, err := h.store.Attachments(c.Request.Context(), requestID)
	if err != nil {
		h.log.WarnContext(c, "attachments not listed", "request", requestID, "err", err)
	}
	return list
}
