package handlers

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
)

// barChart is a horizontal bar chart drawn on the server as inline SVG,
// so the reports need no JavaScript and no image requests. It is an
// image with a text alternative (role="img", <title> and <desc> named by
// aria-labelledby); every chart on a page sits beside a table with the
// same figures, which is what screen-reader users and anyone who wants
// the numbers read.
type barChart struct {
	// ID prefixes the ids of the title and description; unique per page.
	ID    string
	Title string
	// Desc says in words what the chart shows, figures included.
	Desc   string
	Series []barSeries
	Rows   []barRow
	// Stacked draws one bar per row with a segment per series; otherwise
	// each series gets a thinner bar of its own (grouped).
	Stacked bool
	// Unit follows each value written at the end of a bar ("days").
	Unit string
}

// barSeries is one kind of value, drawn in one colour and named in the
// legend (so colour is never the only cue: the table has the words).
type barSeries struct {
	Name, Color string
}

// barRow is one labelled row; Values follow the chart's Series.
type barRow struct {
	Label  string
	Values []int64
}

// Geometry in viewBox units; the SVG scales to its container's width.
const (
	chartWidth  = 640
	chartLabelW = 170
	chartValueW = 70
	chartRowH   = 30
	chartLegend = 34
)

// chartColors pass 3:1 against white (WCAG 1.4.11, graphical objects)
// and are told apart by people with the common colour-vision deficiencies.
var chartColors = []string{"#1d4ed8", "#b42318", "#6b4c9a", "#8a5a00", "#067647", "#4b5360"}

// SVG renders the chart. Every text in it is escaped here, once.
func (c barChart) SVG() template.HTML {
	max := int64(0)
	for _, r := range c.Rows {
		var sum int64
		for _, v := range r.Values {
			if c.Stacked {
				sum += v
			} else {
				max = maxInt64(max, v)
			}
		}
		max = maxInt64(max, sum)
	}
	rowH := chartRowH
	if !c.Stacked && len(c.Series) > 1 {
		rowH = 12*len(c.Series) + 10
	}
	height := chartLegend + len(c.Rows)*rowH + 8
	barW := float64(chartWidth - chartLabelW - chartValueW)
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-labelledby="%s-title %s-desc" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" font-size="14" font-family="system-ui, sans-serif">`,
		esc(c.ID), esc(c.ID), chartWidth, height)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(c.ID), esc(c.Title), esc(c.ID), esc(c.Desc))
	x := 0
	for i, s := range c.Series {
		fmt.Fprintf(&b, `<rect x="%d" y="8" width="14" height="14" fill="%s"/><text x="%d" y="20" fill="#1b1f24">%s</text>`,
			x, c.color(i, s), x+19, esc(s.Name))
		x += 19 + 8*len([]rune(s.Name)) + 18
	}
	for i, r := range c.Rows {
		y := chartLegend + i*rowH
		fmt.Fprintf(&b, `<text x="0" y="%d" fill="#1b1f24">%s</text>`, y+rowH/2+5, esc(truncate(r.Label, 22)))
		if c.Stacked {
			c.stackedRow(&b, r, y, barW, max)
		} else {
			c.groupedRow(&b, r, y, barW, max)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func (c barChart) stackedRow(b *strings.Builder, r barRow, y int, barW float64, max int64) {
	pos, sum := float64(chartLabelW), int64(0)
	for j, v := range r.Values {
		w := scale(v, max, barW)
		if w > 0 {
			fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, pos, y+5, w, chartRowH-10, c.color(j, c.Series[j]))
		}
		pos += w
		sum += v
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#1b1f24">%s</text>`, pos+6, y+chartRowH/2+5, c.value(sum))
}

func (c barChart) groupedRow(b *strings.Builder, r barRow, y int, barW float64, max int64) {
	for j, v := range r.Values {
		by := y + 5 + j*12
		w := scale(v, max, barW)
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="10" fill="%s"/>`, chartLabelW, by, w, c.color(j, c.Series[j]))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#1b1f24" font-size="11">%s</text>`, float64(chartLabelW)+w+6, by+9, c.value(v))
	}
}

func (c barChart) color(i int, s barSeries) string {
	if s.Color != "" {
		return s.Color
	}
	return chartColors[i%len(chartColors)]
}

func (c barChart) value(v int64) string {
	s := strconv.FormatInt(v, 10)
	if c.Unit != "" {
		s += " " + c.Unit
	}
	return html.EscapeString(s)
}

// scale is v's share of width, against the largest value.
func scale(v, max int64, width float64) float64 {
	if max <= 0 || v <= 0 {
		return 0
	}
	return float64(v) / float64(max) * width
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// truncate shortens a label to n characters with an ellipsis; the full
// label is in the table beside the chart.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
