package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/config"
	"rightsportal/workflow"
)

// policyView is a jurisdiction's policy as the API shows it.
type policyView struct {
	Code                    string `json:"code"`
	Name                    string `json:"name"`
	Label                   string `json:"label"`
	Period                  string `json:"period"`
	ClockStarts             string `json:"clock_starts"`
	MaxExtension            string `json:"max_extension"`
	ExtensionNoticeWithin   string `json:"extension_notice_within"`
	PauseAwaitingSubject    bool   `json:"pause_awaiting_subject"`
	AcknowledgeBusinessDays int    `json:"acknowledge_business_days"`
	AppealWindow            string `json:"appeal_window"`
	AppealDecision          string `json:"appeal_decision"`
	// AppealExtension is what the law allows beyond AppealDecision
	// (Colorado: 60 days). Shown only: the portal keeps the decision
	// clock at AppealDecision, as SPEC §3 has no extend from appealed.
	AppealExtension string   `json:"appeal_extension,omitempty"`
	Authority       string   `json:"authority"`
	Types           []string `json:"types"`
	Default         bool     `json:"default"`
}

func (h *Handler) viewPolicy(code string, p *config.Policy) policyView {
	return policyView{Code: code, Name: p.Name, Label: p.Label, Period: p.Rules.Period.String(),
		ClockStarts: p.ClockStarts, MaxExtension: p.MaxExtension, ExtensionNoticeWithin: p.ExtensionNoticeWithin,
		PauseAwaitingSubject: p.PauseAwaitingSubject, AcknowledgeBusinessDays: p.AcknowledgeBusinessDays,
		AppealWindow: p.AppealWindow, AppealDecision: p.AppealDecision, AppealExtension: p.AppealExtension, Authority: p.Authority, Types: p.Types,
		Default: code == h.cfg.Jurisdictions.Default}
}

// apiJurisdictions lists the policies, in the configuration's order.
func (h *Handler) apiJurisdictions(c *gin.Context) {
	out := []policyView{}
	for _, code := range h.cfg.Jurisdictions.Order {
		out = append(out, h.viewPolicy(code, h.cfg.Policy(code)))
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "time_zone": h.cfg.Organisation.TimeZone})
}

// apiDue answers when a request received on a date is due under a
// jurisdiction, and the latest date an extension can move it to.
func (h *Handler) apiDue(c *gin.Context) {
	code := c.Param("code")
	p := h.cfg.Policy(code)
	if p == nil {
		h.fail(c, &httpError{http.StatusNotFound, "not_found", "No jurisdiction " + code + ".", nil})
		return
	}
	raw := c.Query("received")
	if raw == "" {
		h.fail(c, invalid(map[string]string{"received": "is required, as YYYY-MM-DD"}))
		return
	}
	d, err := workflow.ParseDate(raw)
	if err != nil || len(raw) != len(time.DateOnly) || d.Year < 1900 || d.Year > 9999 {
		h.fail(c, invalid(map[string]string{"received": "must be an existing date as YYYY-MM-DD"}))
		return
	}
	cal := h.cfg.Calendar()
	due := cal.Deadline(d, p.Rules.Period, p.Rules.MaxExtension, false, 0)
	maxDue := cal.Deadline(d, p.Rules.Period, p.Rules.MaxExtension, true, 0)
	c.JSON(http.StatusOK, gin.H{"jurisdiction": code, "received": d.String(), "due_date": due.String(),
		"max_extended_due_date": maxDue.String()})
}
