package packages

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var generated = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func testSummary() Summary {
	return Summary{
		Org: "Example Ltd", OrgContact: "privacy@example.org", Reference: "DSR-2025-0042",
		RequestType: "access", SubjectName: "Alice Example", SubjectEmail: "alice@example.org",
		Generated: generated, Authority: "the Information Commissioner's Office (ico.org.uk)", Law: "UK GDPR",
		Systems: []SystemInfo{
			{Name: "Newsletter", LegalBasis: "consent (Art. 6(1)(a))", Retention: "until you unsubscribe",
				Source: "the sign-up form", Purposes: []string{"sending the monthly newsletter"},
				Categories: []string{"e-mail address", "subscription date"},
				Recipients: []RecipientInfo{{Name: "MailSender Inc.", OutsideEEA: true, Safeguards: "standard contractual clauses"}}},
			{Name: "Support desk", LegalBasis: "contract (Art. 6(1)(b))", Retention: "3 years after the last ticket",
				Purposes: []string{"answering support tickets"}, Categories: []string{"ticket text"},
				AutomatedDecisions: "tickets are routed by keyword",
				Recipients:         []RecipientInfo{{Name: "HelpCo GmbH"}}},
		},
	}
}

func testSections() []Section {
	return []Section{
		{System: "newsletter", Name: "Newsletter", Columns: []string{"email", "subscribed", "opens"},
			Rows: []map[string]any{{"email": "alice@example.org", "subscribed": true, "opens": int64(12)}}},
		{System: "support", Name: "Support desk", Columns: []string{"id", "subject", "body", "rating", "closed"},
			Rows: []map[string]any{
				{"id": int64(7), "subject": "=HYPERLINK(\"http://evil\")", "body": []byte("line 1\nline \"2\""), "rating": -2.5, "closed": nil},
				{"id": int64(8), "subject": "+1 call me", "body": "@admin -x", "rating": float64(4), "closed": generated},
			},
			Note: "2 tickets found"},
	}
}

func build(t *testing.T, s Summary, sections []Section, files []File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Build(&buf, s, sections, files); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func unzip(t *testing.T, b []byte) (names []string, content map[string]string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	content = map[string]string{}
	for _, f := range zr.File {
		if !f.Modified.Equal(generated) {
			t.Errorf("%s modified %v, want %v", f.Name, f.Modified, generated)
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name)
		content[f.Name] = string(data)
	}
	return names, content
}

func staticFile(name, body string) File {
	return File{Name: name, ContentType: "application/pdf", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(body)), nil
	}}
}

// The ZIP holds README, summary and a JSON and a CSV per section; JSON is an array of objects with keys in column order and values typed as given.
func TestBuildJSON(t *testing.T) {
	names, files := unzip(t, build(t, testSummary(), testSections(), nil))
	want := []string{"README.txt", "summary.html", "newsletter.json", "newsletter.csv", "support.json", "support.csv"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(files["support.json"]), &got); err != nil {
		t.Fatal(err)
	}
	wantRows := []map[string]any{
		{"id": 7.0, "subject": "=HYPERLINK(\"http://evil\")", "body": "line 1\nline \"2\"", "rating": -2.5, "closed": nil},
		{"id": 8.0, "subject": "+1 call me", "body": "@admin -x", "rating": 4.0, "closed": "2025-03-14T09:30:00Z"},
	}
	if !reflect.DeepEqual(got, wantRows) {
		t.Fatalf("support.json = %v\nwant %v", got, wantRows)
	}
	// Key order follows Columns, and the file is indented.
	j := files["support.json"]
	if !(strings.Index(j, `"id"`) < strings.Index(j, `"subject"`) && strings.Index(j, `"body"`) < strings.Index(j, `"rating"`)) {
		t.Fatalf("keys out of column order:\n%s", j)
	}
	if !strings.HasPrefix(j, "[\n  {\n    \"id\": 7,") {
		t.Fatalf("not pretty-printed:\n%s", j)
	}
	if files["newsletter.json"] != "[\n  {\n    \"email\": \"alice@example.org\",\n    \"subscribed\": true,\n    \"opens\": 12\n  }\n]\n" {
		t.Fatalf("newsletter.json:\n%s", files["newsletter.json"])
	}
}

// CSV is RFC 4180 with the columns as header; values show as in JSON without string quotes; cells that a spreadsheet would run as formulas get a leading apostrophe, numbers do not.
func TestBuildCSV(t *testing.T) {
	_, files := unzip(t, build(t, testSummary(), testSections(), nil))
	if !strings.HasSuffix(files["support.csv"], "\r\n") {
		t.Fatal("CSV lines do not end in CRLF")
	}
	recs, err := csv.NewReader(strings.NewReader(files["support.csv"])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"id", "subject", "body", "rating", "closed"},
		{"7", `'=HYPERLINK("http://evil")`, "line 1\nline \"2\"", "-2.5", ""},
		{"8", "'+1 call me", "'@admin -x", "4", "2025-03-14T09:30:00Z"},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("support.csv = %q\nwant %q", recs, want)
	}
	recs, _ = csv.NewReader(strings.NewReader(files["newsletter.csv"])).ReadAll()
	if !reflect.DeepEqual(recs, [][]string{{"email", "subscribed", "opens"}, {"alice@example.org", "true", "12"}}) {
		t.Fatalf("newsletter.csv = %q", recs)
	}
	for _, s := range []string{"-1+cmd", "\tx", "\rx", "@SUM(A1)", "=1", "+1"} {
		if got := csvCell(s); got != "'"+s {
			t.Errorf("csvCell(%q) = %q, not guarded", s, got)
		}
	}
}

// A row key missing from Columns is kept, after the columns; a column missing from a row is null in JSON and empty in CSV.
func TestBuildExtraAndMissingColumns(t *testing.T) {
	secs := []Section{{System: "crm", Name: "CRM", Columns: []string{"b", "a"},
		Rows: []map[string]any{{"a": "x", "z": "extra"}}}}
	_, files := unzip(t, build(t, testSummary(), secs, nil))
	if files["crm.json"] != "[\n  {\n    \"b\": null,\n    \"a\": \"x\",\n    \"z\": \"extra\"\n  }\n]\n" {
		t.Fatalf("crm.json:\n%s", files["crm.json"])
	}
	if files["crm.csv"] != "b,a,z\r\n,x,extra\r\n" {
		t.Fatalf("crm.csv: %q", files["crm.csv"])
	}
}

// summary.html gives per system everything Art. 15(1) lists, marks transfers outside the EEA with their safeguards, names the authority, and explains every right.
func TestBuildSummaryContent(t *testing.T) {
	s := testSummary()
	_, files := unzip(t, build(t, s, testSections(), nil))
	html := files["summary.html"]
	must := []string{"Example Ltd", "DSR-2025-0042", "Alice Example", "ico.org.uk", "outside the EEA",
		"standard contractual clauses", "the sign-up form", "tickets are routed by keyword",
		"newsletter.json", "support.csv", "2 tickets found",
		"Right of access", "Right to rectification", "Right to erasure", "Right to restriction of processing",
		"Right to object", "Right to data portability", "Right to withdraw consent", "complain"}
	for _, sys := range s.Systems {
		must = append(must, sys.Name, sys.LegalBasis, sys.Retention)
		must = append(must, sys.Purposes...)
		must = append(must, sys.Categories...)
		for _, r := range sys.Recipients {
			must = append(must, r.Name)
		}
	}
	for _, m := range must {
		if !strings.Contains(html, escaped(m)) {
			t.Errorf("summary.html lacks %q", m)
		}
	}
	if strings.Count(html, "outside the EEA") != 1 {
		t.Error("only the one recipient outside the EEA should be marked so")
	}
	if strings.Contains(html, "hold the data you provided") {
		t.Error("an access summary speaks as a portability one")
	}
	readme := files["README.txt"]
	for _, m := range []string{"summary.html", "newsletter.json", "newsletter.csv", "support.json", "support.csv", "2 tickets found"} {
		if !strings.Contains(readme, m) {
			t.Errorf("README.txt lacks %q", m)
		}
	}
}

// escaped is s as html/template shows it in text.
func escaped(s string) string {
	return strings.NewReplacer("'", "&#39;", `"`, "&#34;", "&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// A portability summary says the files hold the data the subject provided, in JSON and CSV.
func TestBuildPortabilitySummary(t *testing.T) {
	s := testSummary()
	s.RequestType = "portability"
	_, files := unzip(t, build(t, s, testSections(), nil))
	if !strings.Contains(files["summary.html"], "hold the data you provided to us, in JSON and CSV") {
		t.Fatal("portability summary does not say what the files hold")
	}
	if !strings.Contains(files["README.txt"], "The personal data you provided") {
		t.Fatal("portability README does not say what the files hold")
	}
	s.RequestType = "erasure"
	if err := Build(io.Discard, s, nil, nil); err == nil {
		t.Fatal("a package for an erasure request was built")
	}
}

// Hostile values from the inventory, the data or staff never become markup in summary.html.
func TestBuildSummaryEscapes(t *testing.T) {
	s := testSummary()
	evil := `<script>alert(1)</script>`
	s.Org, s.SubjectName, s.Authority = evil, evil, evil
	s.Systems[0].Purposes = []string{evil}
	s.Systems[0].Recipients[0].Safeguards = `<img src=x onerror=alert(1)>`
	secs := testSections()
	secs[0].Name, secs[0].Note = evil, evil
	_, files := unzip(t, build(t, s, secs, []File{staticFile("<script>.pdf", "x")}))
	html := files["summary.html"]
	if strings.Contains(html, "<script") || strings.Contains(html, "<img") {
		t.Fatalf("unescaped markup in summary.html:\n%s", html)
	}
	if !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatal("hostile value missing rather than escaped")
	}
}

// Staff files go under files/ with base names only, no leading dots, and repeats numbered.
func TestBuildStaffFiles(t *testing.T) {
	files := []File{
		staticFile("../../etc/passwd", "p"),
		staticFile("report.pdf", "r1"),
		staticFile(`C:\Users\staff\report.pdf`, "r2"),
		staticFile("REPORT.pdf", "r3"),
		staticFile(".htaccess", "h"),
		staticFile("...", "dots"),
		staticFile("a:b*c?.txt", "w"),
	}
	names, content := unzip(t, build(t, testSummary(), nil, files))
	want := []string{"files/passwd", "files/report.pdf", "files/report (2).pdf", "files/REPORT (3).pdf",
		"files/htaccess", "files/file", "files/a_b_c_.txt"}
	if got := names[2:]; !slices.Equal(got, want) {
		t.Fatalf("staff entries %q, want %q", got, want)
	}
	if content["files/report (2).pdf"] != "r2" || content["files/passwd"] != "p" {
		t.Fatal("staff file content mixed up")
	}
	for _, n := range want {
		if !strings.Contains(content["summary.html"], n) || !strings.Contains(content["README.txt"], n) {
			t.Errorf("%s not listed in summary.html and README.txt", n)
		}
	}
	failing := File{Name: "x.pdf", Open: func() (io.ReadCloser, error) { return nil, errors.New("gone") }}
	if err := Build(io.Discard, testSummary(), nil, []File{failing}); err == nil {
		t.Fatal("a staff file that cannot be read was left out silently")
	}
}

// The same input builds the same bytes, whatever map iteration order does.
func TestBuildDeterministic(t *testing.T) {
	files := []File{staticFile("report.pdf", "r")}
	secs := testSections()
	secs = append(secs, Section{System: "noisy", Name: "Noisy", Rows: []map[string]any{
		{"k1": 1, "k2": 2, "k3": 3, "k4": 4, "k5": 5, "k6": 6, "k7": 7, "k8": 8, "k9": 9}}})
	first := build(t, testSummary(), secs, files)
	for i := 0; i < 5; i++ {
		if !bytes.Equal(first, build(t, testSummary(), secs, files)) {
			t.Fatal("two builds of the same input differ")
		}
	}
}

// Section codes must be safe file names and distinct.
func TestBuildRejectsBadSystemCodes(t *testing.T) {
	for _, code := range []string{"", "../x", "a/b", ".hidden", "Upper"} {
		if err := Build(io.Discard, testSummary(), []Section{{System: code}}, nil); err == nil {
			t.Errorf("system code %q accepted", code)
		}
	}
	dup := []Section{{System: "a"}, {System: "a"}}
	if err := Build(io.Discard, testSummary(), dup, nil); err == nil {
		t.Error("duplicate system code accepted")
	}
}
