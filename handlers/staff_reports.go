package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"rightsportal/service"
	"rightsportal/workflow"
)

// showReports is the reports page: the figures of the requests received
// in a date range, as tables and charts drawn on the server. Invalid
// dates or an unknown jurisdiction re-render the form with 422.
func (h *Handler) showReports(c *gin.Context) {
	q := map[string]string{"from": c.Query("from"), "to": c.Query("to"), "jurisdiction": c.Query("jurisdiction")}
	rep, err := h.svc.Report(c.Request.Context(), q["from"], q["to"], q["jurisdiction"])
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		h.renderReports(c, http.StatusUnprocessableEntity, q, nil, ve.Fields)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderReports(c, http.StatusOK, q, rep, nil)
}

// apiReports is the same report as JSON (GET /api/v1/reports).
func (h *Handler) apiReports(c *gin.Context) {
	rep, err := h.svc.Report(c.Request.Context(), c.Query("from"), c.Query("to"), c.Query("jurisdiction"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rep)
}

func (h *Handler) renderReports(c *gin.Context, status int, q map[string]string, rep *service.Report, errs map[string]string) {
	data := map[string]any{"Q": q, "Errors": errs, "Jurisdictions": h.cfg.Jurisdictions.Order, "Report": rep}
	if rep != nil {
		data["Charts"] = reportCharts(rep)
		data["Tables"] = reportTables(rep)
		data["CCPATypes"] = ccpaTypes(rep)
	}
	h.render(c, status, "staff_reports", "Reports", h.staffPage(c, data))
}

// reportCharts are the page's charts, each drawn from figures that a
// table on the page shows too.
func reportCharts(rep *service.Report) map[string]barChart {
	outcomes := []barSeries{{Name: "completed"}, {Name: "refused"}, {Name: "withdrawn"}, {Name: "expired"}, {Name: "open"}}
	outcomeChart := func(id, title string, rows []service.ReportRow) barChart {
		ch := barChart{ID: id, Title: title, Series: outcomes, Stacked: true}
		var words []string
		for _, r := range rows {
			f := r.Figures
			ch.Rows = append(ch.Rows, barRow{r.Label, []int64{f.Completed, f.Refused, f.Withdrawn, f.Expired, f.Open}})
			words = append(words, fmt.Sprintf("%s: %d received, %d completed, %d refused, %d withdrawn, %d expired, %d open",
				r.Label, f.Received, f.Completed, f.Refused, f.Withdrawn, f.Expired, f.Open))
		}
		ch.Desc = "Requests received from " + rep.From + " to " + rep.To + " by outcome. " + strings.Join(words, "; ") + "."
		return ch
	}
	reasons := barChart{ID: "chart-reasons", Title: "Refusals by reason", Series: []barSeries{{Name: "refused"}}, Stacked: true}
	var rw []string
	for _, code := range rep.Reasons {
		n := rep.Total.RefusedBy[code]
		reasons.Rows = append(reasons.Rows, barRow{reasonLabel(code), []int64{n}})
		rw = append(rw, fmt.Sprintf("%s: %d", reasonLabel(code), n))
	}
	reasons.Desc = fmt.Sprintf("%d requests refused, by reason code. %s.", rep.Total.Refused, strings.Join(rw, "; "))
	days := barChart{ID: "chart-days", Title: "Days to close by request type", Unit: "days",
		Series: []barSeries{{Name: "median"}, {Name: "90th percentile"}}}
	var dw []string
	for _, r := range rep.ByType {
		d := r.DaysToClose
		days.Rows = append(days.Rows, barRow{r.Label, []int64{int64(d.Median), int64(d.P90)}})
		dw = append(dw, fmt.Sprintf("%s: median %d, 90th percentile %d days over %d answered", r.Label, d.Median, d.P90, d.N))
	}
	days.Desc = "Whole days from receipt to the answer (completed or refused). " + strings.Join(dw, "; ") + "."
	return map[string]barChart{
		"ByType":         outcomeChart("chart-type", "Outcomes by request type", rep.ByType),
		"ByJurisdiction": outcomeChart("chart-jurisdiction", "Outcomes by jurisdiction", rep.ByJurisdiction),
		"Reasons":        reasons,
		"Days":           days,
	}
}

// figTable is one table of figures by type or by jurisdiction, with
// the total in its footer.
type figTable struct {
	Caption, DaysCaption, First string
	Rows                        []service.ReportRow
	Total                       service.Figures
}

// reasonTable is refusals per reason code, one row per type or
// jurisdiction.
type reasonTable struct {
	Caption, First string
	Labels         []string
	Rows           []reasonRow
	Total          reasonRow
}

// reasonRow is one line of a refusals table: its refusals per reason
// code, in the report's order of codes.
type reasonRow struct {
	Label string
	Total int64
	N     []int64
}

// reportTables are the page's tables.
func reportTables(rep *service.Report) map[string]any {
	line := func(label string, f service.Figures) reasonRow {
		r := reasonRow{Label: label, Total: f.Refused}
		for _, code := range rep.Reasons {
			r.N = append(r.N, f.RefusedBy[code])
		}
		return r
	}
	var labels []string
	for _, code := range rep.Reasons {
		labels = append(labels, reasonLabel(code))
	}
	reasons := func(caption, first string, rows []service.ReportRow) reasonTable {
		t := reasonTable{Caption: caption, First: first, Labels: labels, Total: line("All", rep.Total)}
		for _, r := range rows {
			t.Rows = append(t.Rows, line(r.Label, r.Figures))
		}
		return t
	}
	return map[string]any{
		"Type": figTable{Caption: "Requests by type and outcome", DaysCaption: "Days to close by request type",
			First: "Type", Rows: rep.ByType, Total: rep.Total},
		"Jurisdiction": figTable{Caption: "Requests by jurisdiction and outcome", DaysCaption: "Days to close by jurisdiction",
			First: "Jurisdiction", Rows: rep.ByJurisdiction, Total: rep.Total},
		"ReasonsType":         reasons("Refusals by request type and reason", "Type", rep.ByType),
		"ReasonsJurisdiction": reasons("Refusals by jurisdiction and reason", "Jurisdiction", rep.ByJurisdiction),
	}
}

// reasonLabel is a refusal reason code as staff read it.
func reasonLabel(code string) string {
	if code == "" {
		return "not recorded"
	}
	return strings.ReplaceAll(code, "_", " ")
}

// ccpaTypes says in words which request types each CCPA right counts.
func ccpaTypes(rep *service.Report) map[string]string {
	out := map[string]string{}
	for _, r := range rep.Rights {
		var names []string
		for _, t := range r.Types {
			names = append(names, workflow.RequestType(t).Title()+" ("+t+")")
		}
		out[r.Right] = strings.Join(names, " and ")
	}
	return out
}
