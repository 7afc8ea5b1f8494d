package service

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"rightsportal/models"
	"rightsportal/workflow"
)

// Bulk actions staff may take on many requests at once. Each is the same
// as on one request's file; duplicate closes flagged duplicates.
const (
	BulkAssign      = "assign"
	BulkStartReview = string(workflow.ActionStartReview)
	BulkApprove     = string(workflow.ActionApprove)
	BulkReject      = string(workflow.ActionReject)
	BulkDuplicate   = ActionCloseDuplicate
)

// BulkActions lists them in the order the queue page offers them.
func BulkActions() []string {
	return []string{BulkAssign, BulkStartReview, BulkApprove, BulkReject, BulkDuplicate}
}

// MaxBulkItems bounds one bulk call: a few pages of the queue.
const MaxBulkItems = 500

// BulkItem names one request and the version the staff member saw.
type BulkItem struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// BulkInput is one bulk decision over many requests.
type BulkInput struct {
	Action  string
	Reason  string
	Message string
	// Assignee names who takes the requests on assign and start_review
	// (an id or an e-mail address); empty means the acting staff member.
	Assignee string
	Items    []BulkItem
}

// Outcomes of one request in a bulk call.
const (
	BulkDone       = "done"
	BulkStale      = "stale_version"
	BulkNotAllowed = "not_allowed"
	BulkNotFound   = "not_found"
	BulkInvalid    = "invalid"
	BulkBusy       = "busy"
	BulkFailed     = "failed"
)

// BulkResult says what happened to one request.
type BulkResult struct {
	ID        string `json:"id"`
	Reference string `json:"reference,omitempty"`
	Outcome   string `json:"outcome"`
	Status    string `json:"status,omitempty"`
	Version   int    `json:"version,omitempty"`
	Message   string `json:"message,omitempty"`
	// Err is the error behind a failed outcome, for the log only.
	Err error `json:"-"`
}

// Bulk carries out one action on each listed request on its own: its own
// transaction through the state machine, its own audit event and mail,
// its own version check. One request refused does not stop the others;
// the answer says per request what happened. A malformed call (unknown
// action, missing reason, no or too many requests) is refused whole
// before anything is done.
//
// The rules hold per request as they do one at a time: a bulk approve is
// one approval by the acting staff member on each request, so an erasure
// that needs two still needs a second person.
func (s *Service) Bulk(ctx context.Context, staff *models.Staff, in BulkInput) ([]BulkResult, error) {
	if err := checkBulk(&in); err != nil {
		return nil, err
	}
	out := make([]BulkResult, 0, len(in.Items))
	for _, it := range in.Items {
		if err := ctx.Err(); err != nil {
			// The client went away: the rest were not tried, and say so.
			out = append(out, BulkResult{ID: it.ID, Outcome: BulkFailed, Message: "not tried: the call was cancelled", Err: err})
			continue
		}
		r, err := s.bulkOne(ctx, staff, in, it)
		out = append(out, bulkResult(it, r, err))
	}
	return out, nil
}

func (s *Service) bulkOne(ctx context.Context, staff *models.Staff, in BulkInput, it BulkItem) (*models.Request, error) {
	switch in.Action {
	case BulkAssign:
		// No one named means the sender, as for start_review: the queue
		// page's default choice is "Me", sent as an empty value.
		to := in.Assignee
		if to == "" {
			to = staff.ID
		}
		return s.Assign(ctx, staff, it.ID, to, it.Version)
	case BulkDuplicate:
		return s.CloseDuplicate(ctx, staff, it.ID, it.Version)
	}
	return s.Act(ctx, staff, it.ID, ActInput{Action: in.Action, Reason: in.Reason, Message: in.Message,
		Version: it.Version, Assignee: in.Assignee})
}

// checkBulk refuses a call that cannot be right for any request.
func checkBulk(in *BulkInput) error {
	errs := map[string]string{}
	in.Action, in.Reason, in.Assignee = strings.TrimSpace(in.Action), strings.TrimSpace(in.Reason), strings.TrimSpace(in.Assignee)
	known := false
	for _, a := range BulkActions() {
		known = known || a == in.Action
	}
	switch {
	case in.Action == "":
		errs["action"] = "is required: one of " + strings.Join(BulkActions(), ", ")
	case !known:
		errs["action"] = fmt.Sprintf("%q cannot be done in bulk: use one of %s", in.Action, strings.Join(BulkActions(), ", "))
	case in.Action == BulkReject:
		if !workflow.RejectionCode(in.Reason).Valid() {
			errs["reason"] = "must be a reason code: " + codeList()
		}
		if strings.TrimSpace(in.Message) == "" {
			errs["message"] = "is required: it tells each subject why"
		}
	}
	if err := checkActText(ActInput{Reason: in.Reason, Message: in.Message}); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			for k, v := range ve.Fields {
				errs[k] = v
			}
		}
	}
	switch n := len(in.Items); {
	case n == 0:
		errs["requests"] = "name at least one request"
	case n > MaxBulkItems:
		errs["requests"] = fmt.Sprintf("at most %d requests at once, not %d", MaxBulkItems, n)
	}
	seen := map[string]bool{}
	for _, it := range in.Items {
		switch {
		case strings.TrimSpace(it.ID) == "" || len(it.ID) > 64:
			errs["requests"] = "every request needs its id"
		case it.Version <= 0:
			errs["requests"] = "every request needs the version you decided on (request " + it.ID + " has none)"
		case seen[it.ID]:
			errs["requests"] = "request " + it.ID + " is listed twice"
		}
		seen[it.ID] = true
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

func codeList() string {
	var c []string
	for _, k := range workflow.RejectionCodes() {
		c = append(c, string(k))
	}
	sort.Strings(c)
	return strings.Join(c, ", ")
}

// bulkResult sorts what happened to one request into its outcome, with a
// message safe to show.
func bulkResult(it BulkItem, r *models.Request, err error) BulkResult {
	res := BulkResult{ID: it.ID}
	if r != nil {
		res.Reference, res.Status, res.Version = r.Reference, r.Status, r.Version
	}
	var we *workflow.Error
	var ve *ValidationError
	switch {
	case err == nil:
		res.Outcome = BulkDone
	case errors.Is(err, models.ErrConflict):
		res.Outcome, res.Message = BulkStale, "changed by someone else since you loaded it; nothing was done"
	case errors.Is(err, models.ErrNotFound):
		res.Outcome, res.Message = BulkNotFound, "no such request"
	case errors.As(err, &we) && we.Kind == workflow.ErrInvalid:
		res.Outcome, res.Message = BulkInvalid, we.Msg
	case errors.As(err, &we):
		res.Outcome, res.Message = BulkNotAllowed, we.Msg
	case errors.As(err, &ve):
		res.Outcome, res.Message = BulkInvalid, fieldsText(ve.Fields)
	case errors.Is(err, models.ErrBusy):
		res.Outcome, res.Message = BulkBusy, "the database was busy; nothing was done to this request, try it again"
	default:
		res.Outcome, res.Message, res.Err = BulkFailed, "something went wrong on our side; nothing was done to this request", err
	}
	if err != nil && r != nil && r.Version != it.Version {
		// Only a duplicate's close has two steps: the first was done.
		res.Message = "taken into review, but not closed: " + res.Message
	}
	return res
}

func fieldsText(f map[string]string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+f[k])
	}
	return strings.Join(parts, "; ")
}
