package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"

	"rightsportal/config"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/workflow"
)

// SubmitInput is a new request as the subject gave it.
type SubmitInput struct {
	Type         string
	Email        string
	FullName     string
	Jurisdiction string
	Details      workflow.Details
	// Language is the subject's language for every mail about the
	// request; the default language when empty or not configured.
	Language string
	// Admit, when set, is asked with the normalised address once the
	// input is valid and before anything is stored; its error ends the
	// submission as it is. The per-address rate limit is spent here, so
	// that input refused as invalid spends none of the address's
	// allowance.
	Admit func(email string) error
	// Attachments are files sent with the form, already sealed to disk;
	// their rows commit with the request. Nil: none.
	Attachments *Upload
}

// Submit validates a new request and files it: the request, its two
// verification tokens (link and reply), the submit event and the
// verification mail, in one transaction. The answer does not depend on
// whether the address filed before.
func (s *Service) Submit(ctx context.Context, in SubmitInput) (*models.Request, error) {
	in, pol, err := s.checkSubmit(in)
	if err != nil {
		return nil, err
	}
	if in.Admit != nil {
		if err := in.Admit(in.Email); err != nil {
			return nil, err
		}
	}
	now := models.Now(s.now())
	if _, err := workflow.Decide(workflow.Snapshot{}, workflow.Input{Action: workflow.ActionSubmit,
		Actor: workflow.Actor{Kind: workflow.ActorSubject}, Now: now}); err != nil {
		return nil, err
	}
	details, _ := json.Marshal(in.Details)
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("service: new id: %w", err)
	}
	req := &models.Request{
		ID: id.String(), Reference: newReference(), Type: in.Type, Status: string(workflow.StateUnverified),
		Jurisdiction: in.Jurisdiction, Email: in.Email, FullName: in.FullName, Details: string(details),
		Language: s.loc(in.Language).Lang(),
		VerifyBy: now.Add(s.cfg.Verification.Window.D()),
		// Until verification this is the due date if the clock started
		// now; laws that count from submission keep it.
		DueAt:     s.cal.EndOf(s.cal.Deadline(s.cal.Today(now), pol.Rules.Period, pol.Rules.MaxExtension, false, 0)),
		Approvals: "[]",
	}
	link, linkHash := NewToken()
	reply, replyHash := NewToken()
	m, err := s.mail.Compose(mailer.Message{
		Kind: "verification", To: req.Email, ReplyToken: reply, Lang: req.Language,
		Data: s.mailData(req, map[string]any{
			"VerifyURL": verifySecret(s.cfg, link).Placeholder,
			"ExpiresAt": s.formatTime(req.Language, req.VerifyBy),
		}),
		Secrets: []mailer.Secret{verifySecret(s.cfg, link)},
	})
	if err != nil {
		return nil, err
	}
	ch := models.Change{
		Create: req,
		Tokens: []*models.Token{
			{Purpose: models.TokenVerifyLink, Hash: linkHash, ExpiresAt: req.VerifyBy},
			{Purpose: models.TokenVerifyReply, Hash: replyHash, ExpiresAt: req.VerifyBy},
		},
		Event: &models.Event{Action: string(workflow.ActionSubmit), ToState: req.Status,
			ActorKind: string(workflow.ActorSubject)},
		Mails: []*models.Mail{m},
	}
	in.Attachments.into(&ch, req.Status)
	out, err := s.store.Apply(ctx, now, ch)
	if errors.Is(err, models.ErrDuplicate) {
		// A reference collision (1 in 2^40 per pair): draw again once.
		req.Reference = newReference()
		out, err = s.store.Apply(ctx, now, ch)
	}
	if err == nil {
		in.Attachments.keep()
	}
	return out, err
}

func verifySecret(cfg *config.Config, token string) mailer.Secret {
	return mailer.NewSecret("verify_url", cfg.HTTP.BaseURL+"/verify?token="+token)
}

// checkSubmit normalises the input and lists everything wrong with it.
func (s *Service) checkSubmit(in SubmitInput) (SubmitInput, *config.Policy, error) {
	// The messages are for the subject, in the subject's language.
	l := s.loc(in.Language)
	errs := map[string]string{}
	t := workflow.RequestType(strings.TrimSpace(in.Type))
	in.Type = string(t)
	if !t.Valid() {
		errs["type"] = l.T("check.choose_type")
	}
	email, msg := NormalizeEmail(in.Email)
	in.Email = email
	if msg != "" {
		errs["email"] = sayCheck(l, msg)
	}
	in.FullName = strings.Join(strings.Fields(in.FullName), " ")
	if m := workflow.CheckText(in.FullName, workflow.MaxNameLen, false); m != "" {
		errs["full_name"] = sayCheck(l, m)
	} else if in.FullName == "" {
		errs["full_name"] = l.T("check.name_required")
	}
	in.Jurisdiction = strings.TrimSpace(in.Jurisdiction)
	if in.Jurisdiction == "" {
		in.Jurisdiction = s.cfg.Jurisdictions.Default
	}
	pol := s.cfg.Policy(in.Jurisdiction)
	switch {
	case pol == nil:
		errs["jurisdiction"] = l.T("check.jurisdiction")
	case t.Valid() && !pol.Allows(t):
		errs["type"] = l.T("check.not_available", "Law", l.Or("law."+in.Jurisdiction+".name", pol.Name))
	}
	if t.Valid() {
		in.Details = in.Details.Normalize(t)
		for k, v := range sayChecks(l, in.Details.Validate(t)) {
			errs[k] = v
		}
	}
	if len(errs) > 0 {
		return in, nil, &ValidationError{Fields: errs}
	}
	return in, pol, nil
}

// NormalizeEmail trims and lower-cases an address and checks that it is
// one bare address (no display name, no list, no header tricks). It
// returns a message for the subject when it is not.
func NormalizeEmail(raw string) (string, string) {
	e := strings.ToLower(strings.TrimSpace(raw))
	switch {
	case e == "":
		return "", "Enter your e-mail address."
	case len(e) > workflow.MaxEmailLen:
		return e, "This e-mail address is too long."
	case invisibleIn(e):
		return e, "Remove the invisible characters (such as a zero-width space) from the e-mail address: they often come along when an address is copied."
	case workflow.CheckText(e, workflow.MaxEmailLen, false) != "" || strings.ContainsAny(e, " ,;<>\"()[]\\"):
		return e, "Enter one e-mail address, like name@example.com."
	}
	a, err := mail.ParseAddress(e)
	at := strings.LastIndexByte(e, '@')
	if err != nil || a.Address != e || a.Name != "" || at < 1 || !strings.Contains(e[at+1:], ".") ||
		strings.HasSuffix(e, ".") || strings.Contains(e[at+1:], "..") {
		return e, "Enter a valid e-mail address, like name@example.com."
	}
	return e, ""
}

// mailData is what every mail to the subject may use, plus extra: the
// request's type in the request's language.
func (s *Service) mailData(r *models.Request, extra map[string]any) map[string]any {
	return s.mailDataIn(r.Language, r, extra)
}

// mailDataIn is mailData in lang: the subject's language, the default
// language for a third party, English (i18n.Source) for staff.
func (s *Service) mailDataIn(lang string, r *models.Request, extra map[string]any) map[string]any {
	t := workflow.RequestType(r.Type)
	l := s.loc(lang)
	d := map[string]any{
		"Org": s.cfg.Organisation.Name, "OrgContact": s.cfg.Organisation.PrivacyContact,
		"BaseURL": s.cfg.HTTP.BaseURL, "Name": r.FullName, "Reference": r.Reference,
		"TypeTitle": l.Or("type."+r.Type+".title", t.Title()), "TypeNoun": l.Or("type."+r.Type+".noun", t.Noun()),
		"Type": r.Type,
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// formatTime shows an instant in the organisation's time zone, written
// the way lang writes it.
func (s *Service) formatTime(lang string, t time.Time) string {
	return s.loc(lang).DateTime(t.In(s.cal.Loc))
}

// formatDate shows the local date of an instant, written the way lang
// writes it ("Monday, 7 December 2026", "Montag, 7. Dezember 2026").
func (s *Service) formatDate(lang string, t time.Time) string {
	return s.loc(lang).Date(t.In(s.cal.Loc))
}

// lawWords are a jurisdiction's name, authority and periods in lang: the
// catalog's words for a shipped law, the configured ones for a law an
// operator added.
func (s *Service) lawWords(lang, code string) map[string]any {
	if s.cfg.Policy(code) == nil {
		code = s.cfg.Jurisdictions.Default // as s.policy falls back
	}
	pol := s.policy(code)
	l := s.loc(lang)
	return map[string]any{
		"Law":       l.Or("law."+code+".name", pol.Name),
		"Authority": l.Or("law."+code+".authority", pol.Authority),
		"Period":    l.Period(pol.Rules.Period.Months, pol.Rules.Period.Days),
		"Extension": l.Period(pol.Rules.MaxExtension.Months, pol.Rules.MaxExtension.Days),
	}
}

// withLaw adds the jurisdiction's words to extra.
func (s *Service) withLaw(r *models.Request, extra map[string]any) map[string]any {
	for k, v := range s.lawWords(r.Language, r.Jurisdiction) {
		extra[k] = v
	}
	return extra
}
