package packages

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strings"
	"time"

	"rightsportal/templates"
)

// Section is one system's data about the subject, as its connector found
// it; it becomes <System>.json and <System>.csv in the package.
type Section struct {
	// System is the system's code, used for the file names.
	System  string
	Name    string
	Columns []string
	Rows    []map[string]any
	// Note tells the subject what happened when nothing could be
	// exported as rows, e.g. "nothing found" or the service's answer.
	Note string
}

// SystemInfo is what the inventory says about one system: the
// information GDPR Art. 15(1) obliges the answer to give.
type SystemInfo struct {
	Name, LegalBasis, Retention, Source, AutomatedDecisions string
	Purposes, Categories                                    []string
	Recipients                                              []RecipientInfo
}

// RecipientInfo is someone a system's data is shared with; a transfer
// outside the EEA is shown with its safeguards (Art. 15(2)).
type RecipientInfo struct {
	Name       string
	OutsideEEA bool
	Safeguards string
}

// Summary is what the package says about the request and the
// organisation besides the data itself.
type Summary struct {
	Org, OrgContact, Reference string
	// RequestType is "access" or "portability".
	RequestType               string
	SubjectName, SubjectEmail string
	// Generated is the build time, also every ZIP entry's modification
	// time, so the same input gives the same bytes.
	Generated time.Time
	// Authority is where the subject may complain.
	Authority string
	Law       string
	Systems   []SystemInfo
}

// File is a document staff add to the package; it goes under files/.
type File struct {
	Name        string
	ContentType string
	Open        func() (io.ReadCloser, error)
}

var systemCodeRE = regexp.MustCompile(`^[a-z0-9_-][a-z0-9._-]{0,99}$`)

// Build writes the package as a ZIP to w: README.txt, summary.html, per
// section <system>.json and <system>.csv, and each staff file under
// files/. The same arguments always give the same bytes.
func Build(w io.Writer, s Summary, sections []Section, files []File) error {
	if s.RequestType != "access" && s.RequestType != "portability" {
		return fmt.Errorf("packages: a package answers an access or portability request, not %q", s.RequestType)
	}
	seen := map[string]bool{}
	for _, sec := range sections {
		if !systemCodeRE.MatchString(sec.System) || seen[sec.System] {
			return fmt.Errorf("packages: system code %q is invalid or used twice", sec.System)
		}
		seen[sec.System] = true
	}
	for _, f := range files {
		if f.Open == nil {
			return fmt.Errorf("packages: staff file %q has no content", f.Name)
		}
	}
	names := staffNames(files)
	summary, err := renderSummary(s, sections, names)
	if err != nil {
		return err
	}
	b := &builder{zw: zip.NewWriter(w), mod: s.Generated}
	if b.mod.IsZero() {
		b.mod = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	b.add("README.txt", func(w io.Writer) error {
		_, err := io.WriteString(w, readme(s, sections, names))
		return err
	})
	b.add("summary.html", func(w io.Writer) error {
		_, err := w.Write(summary)
		return err
	})
	for _, sec := range sections {
		cols := columnsOf(sec)
		b.add(sec.System+".json", func(w io.Writer) error { return writeJSON(w, cols, sec.Rows) })
		b.add(sec.System+".csv", func(w io.Writer) error { return writeCSV(w, cols, sec.Rows) })
	}
	for i, f := range files {
		b.add("files/"+names[i], func(w io.Writer) error { return copyFile(w, f) })
	}
	if b.err != nil {
		return b.err
	}
	if err := b.zw.Close(); err != nil {
		return fmt.Errorf("packages: %w", err)
	}
	return nil
}

// builder adds entries until the first error, which Build then reports.
type builder struct {
	zw  *zip.Writer
	mod time.Time
	err error
}

func (b *builder) add(name string, write func(io.Writer) error) {
	if b.err != nil {
		return
	}
	fw, err := b.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: b.mod})
	if err == nil {
		err = write(fw)
	}
	if err != nil {
		b.err = fmt.Errorf("packages: writing %s: %w", name, err)
	}
}

func copyFile(w io.Writer, f File) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	return errors.Join(err, r.Close())
}

// summaryView is what summary.html is rendered from.
type summaryView struct {
	Summary
	Portability   bool
	GeneratedText string
	Sections      []sectionView
	Files         []string
}

type sectionView struct {
	Name, JSON, CSV, Note string
	Rows                  int
}

func renderSummary(s Summary, sections []Section, names []string) ([]byte, error) {
	t, err := template.ParseFS(templates.FS, "package/summary.html")
	if err != nil {
		return nil, fmt.Errorf("packages: %w", err)
	}
	v := summaryView{Summary: s, Portability: s.RequestType == "portability",
		GeneratedText: s.Generated.Format("2 January 2006, 15:04 MST")}
	for _, sec := range sections {
		v.Sections = append(v.Sections, sectionView{Name: sec.Name, JSON: sec.System + ".json",
			CSV: sec.System + ".csv", Note: sec.Note, Rows: len(sec.Rows)})
	}
	for _, n := range names {
		v.Files = append(v.Files, "files/"+n)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("packages: rendering summary.html: %w", err)
	}
	return buf.Bytes(), nil
}

// readme lists the package's files in plain text, for someone who opens
// the archive before the summary.
func readme(s Summary, sections []Section, names []string) string {
	var b strings.Builder
	what := "A copy of the personal data " + s.Org + " holds about you"
	if s.RequestType == "portability" {
		what = "The personal data you provided to " + s.Org
	}
	fmt.Fprintf(&b, "%s\r\nRequest %s, prepared %s for %s.\r\n\r\n", what, s.Reference,
		s.Generated.Format("2 January 2006, 15:04 MST"), s.SubjectName)
	b.WriteString("This archive holds:\r\n\r\n")
	entry := func(name, text string) { fmt.Fprintf(&b, "%s\r\n    %s\r\n\r\n", name, text) }
	entry("summary.html", "Read this first (open it in a web browser): what data we hold about you, "+
		"why, who receives it, how long we keep it, where it comes from, and your rights, "+
		"including the right to complain.")
	for _, sec := range sections {
		text := fmt.Sprintf("%s: your data as JSON (machine-readable), %d record(s).", sec.Name, len(sec.Rows))
		if sec.Note != "" {
			text += " Note: " + sec.Note
		}
		entry(sec.System+".json", text)
		entry(sec.System+".csv", sec.Name+": the same data as CSV (opens in a spreadsheet program).")
	}
	for _, n := range names {
		entry("files/"+n, "A document our privacy team added to this answer.")
	}
	entry("README.txt", "This file.")
	if s.OrgContact != "" {
		fmt.Fprintf(&b, "Questions: %s\r\n", s.OrgContact)
	}
	return b.String()
}
