package handlers

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/models"
	"rightsportal/service"
)

// taskForm is a staff step on one task.
type taskForm struct {
	Action   string `form:"action" json:"action"`
	Evidence string `form:"evidence" json:"evidence"`
	Reason   string `form:"reason" json:"reason"`
	Value    string `form:"value" json:"value"`
}

func (f taskForm) input() service.TaskInput {
	return service.TaskInput{Action: f.Action, Evidence: f.Evidence, Reason: f.Reason, Value: f.Value}
}

func taskID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("task"), 10, 64)
	return id, err == nil && id > 0
}

// decideTask is a step on a task from the file: mark a manual task done,
// waive, retry, or apply a correction.
func (h *Handler) decideTask(c *gin.Context) {
	limitBody(c, h.cfg.HTTP.MaxBodyBytes)
	var f taskForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	reqID := c.Param("id")
	id, ok := taskID(c)
	if !ok {
		h.fail(c, errNotFound)
		return
	}
	if err := h.svc.DecideTask(c.Request.Context(), staffOf(c), reqID, id, f.input()); err != nil {
		h.refuseOnFile(c, reqID, taskError(err))
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/requests/"+url.PathEscape(reqID)+"?done=task#tasks")
}

// taskError answers a task step that does not fit the task's state 409.
func taskError(err error) error {
	if errors.Is(err, service.ErrTaskState) {
		return &httpError{http.StatusConflict, "task_state", "This step does not fit the task now (it may have changed meanwhile).", nil}
	}
	return err
}

// apiDecideTask is the same step through the staff API.
func (h *Handler) apiDecideTask(c *gin.Context) {
	var f taskForm
	if err := decodeJSON(c, h.cfg.HTTP.MaxBodyBytes, &f); err != nil {
		h.fail(c, err)
		return
	}
	id, ok := taskID(c)
	if !ok {
		h.fail(c, errNotFound)
		return
	}
	if err := h.svc.DecideTask(c.Request.Context(), staffOf(c), c.Param("id"), id, f.input()); err != nil {
		h.fail(c, taskError(err))
		return
	}
	t, err := h.store.Task(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewTask(t))
}

// addFile takes a file staff add to the package (multipart, one file).
func (h *Handler) addFile(c *gin.Context) {
	reqID := c.Param("id")
	limit := h.cfg.Fulfilment.MaxUploadBytes
	limitBody(c, limit+64<<10)
	h.allowUpload(c, limit+64<<10)
	tooLarge := &httpError{http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("The file is larger than %d bytes.", limit), map[string]string{"file": "too large"}}
	fh, err := c.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.refuseOnFile(c, reqID, tooLarge)
			return
		}
		h.refuseOnFile(c, reqID, invalid(map[string]string{"file": "Choose a file to add."}))
		return
	}
	// A file a little over the limit still fits the body allowance (which
	// leaves room for the multipart framing): too large all the same.
	if fh.Size > limit {
		h.refuseOnFile(c, reqID, tooLarge)
		return
	}
	f, err := fh.Open()
	if err != nil {
		h.fail(c, malformed("The file could not be read."))
		return
	}
	defer f.Close()
	if err := h.svc.AddPackageFile(c.Request.Context(), staffOf(c), reqID, fh.Filename, io.LimitReader(f, limit+1)); err != nil {
		h.refuseOnFile(c, reqID, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/requests/"+url.PathEscape(reqID)+"?done=file#package")
}

// removeFile takes an added file out of the package before release.
func (h *Handler) removeFile(c *gin.Context) {
	reqID := c.Param("id")
	id, err := strconv.ParseInt(c.Param("file"), 10, 64)
	if err != nil {
		h.fail(c, errNotFound)
		return
	}
	if err := h.svc.RemovePackageFile(c.Request.Context(), staffOf(c), reqID, id); err != nil {
		h.refuseOnFile(c, reqID, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/requests/"+url.PathEscape(reqID)+"?done=file#package")
}

// releaseAgain opens a new download window.
func (h *Handler) releaseAgain(c *gin.Context) {
	reqID := c.Param("id")
	if err := h.svc.ReleaseAgain(c.Request.Context(), staffOf(c), reqID); err != nil {
		h.refuseOnFile(c, reqID, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/requests/"+url.PathEscape(reqID)+"?done=release#package")
}

// taskView is a task in the staff API.
type taskView struct {
	ID       int64  `json:"id"`
	Kind     string `json:"kind"`
	System   string `json:"system"`
	Title    string `json:"title"`
	State    string `json:"state"`
	Output   string `json:"output,omitempty"`
	Error    string `json:"error,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	Value    string `json:"value,omitempty"`
	Attempts int    `json:"attempts"`
}

func viewTask(t *models.Task) taskView {
	return taskView{ID: t.ID, Kind: t.Kind, System: t.System, Title: t.Title, State: t.State, Output: t.Output,
		Error: t.Error, Evidence: t.Evidence, Value: t.Value, Attempts: t.Attempts}
}

// sendCode mails the subject a download code.
func (h *Handler) sendCode(c *gin.Context) {
	token := c.Param("token")
	if err := h.svc.SendDownloadCode(c.Request.Context(), token); err != nil {
		h.downloadProblem(c, token, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/status/"+url.PathEscape(token)+"?done=code#download")
}

// download spends a typed code and streams the package.
func (h *Handler) download(c *gin.Context) {
	limitBody(c, 4<<10)
	token := c.Param("token")
	r, p, req, err := h.svc.Download(c.Request.Context(), token, c.PostForm("code"))
	if err != nil {
		h.downloadProblem(c, token, err)
		return
	}
	defer r.Close()
	c.Header("Content-Disposition", `attachment; filename="`+req.Reference+`.zip"`)
	c.Header("Cache-Control", "no-store")
	c.DataFromReader(http.StatusOK, p.Size, "application/zip", r, nil)
}

// downloadProblem shows the status page with why the download did not
// work.
func (h *Handler) downloadProblem(c *gin.Context, token string, err error) {
	l := h.loc(c)
	switch {
	case errors.Is(err, service.ErrCodeWrong):
		h.renderStatusWith(c, http.StatusUnprocessableEntity, token, map[string]any{"CodeError": l.T("status.code_wrong")})
	case errors.Is(err, service.ErrPackageExpired):
		h.renderStatusWith(c, http.StatusGone, token, map[string]any{"DownloadError": l.T("status.download_ended")})
	case errors.Is(err, service.ErrNoPackage):
		h.renderStatusWith(c, http.StatusNotFound, token, map[string]any{"DownloadError": l.T("status.no_download")})
	default:
		h.statusProblem(c, err)
	}
}
