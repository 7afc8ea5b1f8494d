package workflow_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"rightsportal/workflow"
)

// full has every field set, with blanks around, so Normalize has
// something to trim and to drop.
var full = workflow.Details{
	Description:     "  please hurry  ",
	Inaccurate:      " old address ",
	Correction:      " new address ",
	Ground:          " contested_accuracy ",
	DirectMarketing: true,
	Grounds:         " my situation ",
	Consent:         " newsletter ",
}

// Normalize keeps, trimmed, only the fields the type asks for, so nothing
// the form did not ask for is stored.
func TestNormalize(t *testing.T) {
	grounds := full
	grounds.DirectMarketing = false
	tests := []struct {
		typ  workflow.RequestType
		in   workflow.Details
		want workflow.Details
	}{
		{workflow.TypeAccess, full, workflow.Details{Description: "please hurry"}},
		{workflow.TypeErasure, full, workflow.Details{Description: "please hurry"}},
		{workflow.TypePortability, full, workflow.Details{Description: "please hurry"}},
		{workflow.TypeRectification, full, workflow.Details{Description: "please hurry", Inaccurate: "old address", Correction: "new address"}},
		{workflow.TypeRestriction, full, workflow.Details{Description: "please hurry", Ground: "contested_accuracy"}},
		{workflow.TypeObjection, full, workflow.Details{Description: "please hurry", DirectMarketing: true}},
		{workflow.TypeObjection, grounds, workflow.Details{Description: "please hurry", Grounds: "my situation"}},
		{workflow.TypeConsentWithdrawal, full, workflow.Details{Description: "please hurry", Consent: "newsletter"}},
		{"no_such_type", full, workflow.Details{Description: "please hurry"}},
	}
	for _, tc := range tests {
		if got := tc.in.Normalize(tc.typ); got != tc.want {
			t.Errorf("Normalize(%s) = %+v, want %+v", tc.typ, got, tc.want)
		}
	}
}

// Validate asks of each type exactly what SPEC §2 requires of it.
func TestValidateRequiredFields(t *testing.T) {
	tests := []struct {
		name string
		typ  workflow.RequestType
		in   workflow.Details
		want []string // the keys of the error map
	}{
		{"access needs nothing", workflow.TypeAccess, workflow.Details{}, nil},
		{"erasure needs nothing", workflow.TypeErasure, workflow.Details{}, nil},
		{"portability needs nothing", workflow.TypePortability, workflow.Details{}, nil},
		{"rectification needs a correction", workflow.TypeRectification, workflow.Details{Inaccurate: "old"}, []string{"details.correction"}},
		{"rectification with correction", workflow.TypeRectification, workflow.Details{Correction: "new"}, nil},
		{"rectification, blank correction", workflow.TypeRectification, workflow.Details{Correction: "   "}, []string{"details.correction"}},
		{"restriction needs a ground", workflow.TypeRestriction, workflow.Details{}, []string{"details.ground"}},
		{"restriction, unknown ground", workflow.TypeRestriction, workflow.Details{Ground: "i_feel_like_it"}, []string{"details.ground"}},
		{"restriction, upper-case ground", workflow.TypeRestriction, workflow.Details{Ground: "LEGAL_CLAIM"}, []string{"details.ground"}},
		{"restriction, contested accuracy", workflow.TypeRestriction, workflow.Details{Ground: "contested_accuracy"}, nil},
		{"restriction, unlawful processing", workflow.TypeRestriction, workflow.Details{Ground: "unlawful_processing"}, nil},
		{"restriction, legal claim", workflow.TypeRestriction, workflow.Details{Ground: "legal_claim"}, nil},
		{"restriction, pending objection", workflow.TypeRestriction, workflow.Details{Ground: "pending_objection"}, nil},
		{"objection needs grounds", workflow.TypeObjection, workflow.Details{}, []string{"details.grounds"}},
		{"objection with grounds", workflow.TypeObjection, workflow.Details{Grounds: "my situation"}, nil},
		{"objection to direct marketing needs none", workflow.TypeObjection, workflow.Details{DirectMarketing: true}, nil},
		{"consent withdrawal needs the consent", workflow.TypeConsentWithdrawal, workflow.Details{}, []string{"details.consent"}},
		{"consent withdrawal with consent", workflow.TypeConsentWithdrawal, workflow.Details{Consent: "analytics"}, nil},
		{"bad description on any type", workflow.TypeAccess, workflow.Details{Description: "a\x00b"}, []string{"details.description"}},
		{"bad correction text", workflow.TypeRectification, workflow.Details{Correction: "x\u202ey"}, []string{"details.correction"}},
		{"multi-line description is fine", workflow.TypeErasure, workflow.Details{Description: "line one\r\nline two\tend"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.in.Normalize(tc.typ).Validate(tc.typ)
			got := slices.Sorted(maps.Keys(errs))
			if !slices.Equal(got, tc.want) {
				t.Errorf("error keys %v, want %v (%v)", got, tc.want, errs)
			}
			for k, msg := range errs {
				if strings.TrimSpace(msg) == "" {
					t.Errorf("%s has an empty message", k)
				}
			}
		})
	}
}

// CheckText refuses what could mislead staff or break a mail: control and
// direction characters, invalid UTF-8, line breaks in one-line fields and
// text over the limit.
func TestCheckText(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		max       int
		multiline bool
		ok        bool
	}{
		{"plain", "Erika Mustermann", 200, false, true},
		{"empty", "", 200, false, true},
		{"accents and emoji", "Zoë Ñúñez 😀 名前", 200, false, true},
		{"NUL", "a\x00b", 200, true, false},
		{"escape", "a\x1b[31mred", 200, true, false},
		{"bell", "a\ab", 200, true, false},
		{"DEL", "a\x7fb", 200, true, false},
		{"C1 control", "a\u0085b", 200, true, false},
		{"C1 CSI", "a\u009bb", 200, true, false},
		{"right-to-left override", "invoice\u202egpj.exe", 200, true, false},
		{"left-to-right override", "a\u202db", 200, true, false},
		{"line separator", "a\u2028b", 200, true, false},
		{"paragraph separator", "a\u2029b", 200, true, false},
		{"invalid UTF-8", "a\xffb", 200, true, false},
		{"truncated UTF-8", "caf\xc3", 200, true, false},
		{"newline, single line", "a\nb", 200, false, false},
		{"carriage return, single line", "a\rb", 200, false, false},
		{"tab, single line", "a\tb", 200, false, false},
		{"newline, multi-line", "a\nb\r\nc\td", 200, true, true},
		{"5000 characters", strings.Repeat("a", 5000), workflow.MaxDetailLen, true, true},
		{"5001 characters", strings.Repeat("a", 5001), workflow.MaxDetailLen, true, false},
		{"5000 multi-byte characters", strings.Repeat("é", 5000), workflow.MaxDetailLen, true, true},
		{"5001 multi-byte characters", strings.Repeat("é", 5001), workflow.MaxDetailLen, true, false},
		{"name at the limit", strings.Repeat("n", workflow.MaxNameLen), workflow.MaxNameLen, false, true},
		{"name over the limit", strings.Repeat("n", workflow.MaxNameLen+1), workflow.MaxNameLen, false, false},
	}
	for _, tc := range tests {
		msg := workflow.CheckText(tc.in, tc.max, tc.multiline)
		if tc.ok != (msg == "") {
			t.Errorf("%s: CheckText = %q, want ok=%v", tc.name, msg, tc.ok)
		}
	}
}

// FromText puts a plain string where its type needs it most.
func TestFromText(t *testing.T) {
	tests := []struct {
		typ  workflow.RequestType
		in   string
		want workflow.Details
	}{
		{workflow.TypeAccess, " all of it ", workflow.Details{Description: "all of it"}},
		{workflow.TypeErasure, "everything", workflow.Details{Description: "everything"}},
		{workflow.TypePortability, "as JSON", workflow.Details{Description: "as JSON"}},
		{workflow.TypeRectification, " my name is Zoë ", workflow.Details{Correction: "my name is Zoë"}},
		{workflow.TypeRestriction, "legal_claim", workflow.Details{Ground: "legal_claim"}},
		{workflow.TypeRestriction, " pending_objection ", workflow.Details{Ground: "pending_objection"}},
		{workflow.TypeRestriction, "please stop", workflow.Details{Description: "please stop"}},
		{workflow.TypeObjection, "direct_marketing", workflow.Details{DirectMarketing: true}},
		{workflow.TypeObjection, "my situation", workflow.Details{Grounds: "my situation"}},
		{workflow.TypeConsentWithdrawal, "newsletter", workflow.Details{Consent: "newsletter"}},
		{workflow.TypeAccess, "", workflow.Details{}},
	}
	for _, tc := range tests {
		if got := workflow.FromText(tc.typ, tc.in); got != tc.want {
			t.Errorf("FromText(%s, %q) = %+v, want %+v", tc.typ, tc.in, got, tc.want)
		}
	}
}

// FuzzDetails: Normalize and Validate never panic, and whatever passes is
// valid UTF-8 without control characters other than \n, \r and \t, within
// the length limit.
func FuzzDetails(f *testing.F) {
	f.Add(0, "desc", "old", "new", "legal_claim", false, "grounds", "newsletter")
	f.Add(3, "", "", "", "contested_accuracy", false, "", "")
	f.Add(4, "a\u202eb", "", "", "", true, "x\x00", "")
	f.Add(6, "\xff\xfe", "", "", "", false, "", "\u0085")
	f.Add(1, "line\r\nline\t", "\x1b", " fix ", "", false, "", "")
	f.Fuzz(func(t *testing.T, typ int, desc, inaccurate, correction, ground string, dm bool, grounds, consent string) {
		types := workflow.RequestTypes()
		rt := types[int(uint(typ)%uint(len(types)))]
		in := workflow.Details{Description: desc, Inaccurate: inaccurate, Correction: correction,
			Ground: ground, DirectMarketing: dm, Grounds: grounds, Consent: consent}
		for _, d := range []workflow.Details{in, workflow.FromText(rt, desc)} {
			n := d.Normalize(rt)
			if n.Normalize(rt) != n {
				t.Fatalf("Normalize is not idempotent: %+v", n)
			}
			if len(n.Validate(rt)) != 0 {
				continue
			}
			for _, s := range []string{n.Description, n.Inaccurate, n.Correction, n.Ground, n.Grounds, n.Consent} {
				if !utf8.ValidString(s) {
					t.Fatalf("valid details hold invalid UTF-8: %q", s)
				}
				if utf8.RuneCountInString(s) > workflow.MaxDetailLen {
					t.Fatalf("valid details hold %d characters", utf8.RuneCountInString(s))
				}
				for _, r := range s {
					if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
						t.Fatalf("valid details hold control character %U in %q", r, s)
					}
				}
			}
		}
	})
}
