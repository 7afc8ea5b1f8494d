package workflow

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Details is what a subject gives besides e-mail and name: what SPEC §2
// asks of each type, plus an optional free-text description.
type Details struct {
	// Description is free text the subject adds to any request.
	Description string `json:"description,omitempty"`
	// Inaccurate and Correction: rectification, what is wrong and what it
	// should be.
	Inaccurate string `json:"inaccurate,omitempty"`
	Correction string `json:"correction,omitempty"`
	// Ground is the restriction ground (one of RestrictionGrounds).
	Ground string `json:"ground,omitempty"`
	// DirectMarketing marks an objection to direct marketing, which needs
	// no grounds and is absolute; otherwise Grounds must say why.
	DirectMarketing bool   `json:"direct_marketing,omitempty"`
	Grounds         string `json:"grounds,omitempty"`
	// Consent names the consent withdrawn (newsletter, analytics, …).
	Consent string `json:"consent,omitempty"`
}

// RestrictionGrounds are the four grounds of GDPR Art. 18(1).
func RestrictionGrounds() []string {
	return []string{"contested_accuracy", "unlawful_processing", "legal_claim", "pending_objection"}
}

// Limits on what a subject may write, in characters.
const (
	MaxNameLen   = 200
	MaxEmailLen  = 254
	MaxDetailLen = 5000
)

// FromText turns a plain-text details value (an API client that sends a
// string) into Details: the text serves as what the type needs most.
func FromText(t RequestType, s string) Details {
	s = strings.TrimSpace(s)
	switch t {
	case TypeRectification:
		return Details{Correction: s}
	case TypeRestriction:
		if slices.Contains(RestrictionGrounds(), s) {
			return Details{Ground: s}
		}
	case TypeObjection:
		if s == "direct_marketing" {
			return Details{DirectMarketing: true}
		}
		return Details{Grounds: s}
	case TypeConsentWithdrawal:
		return Details{Consent: s}
	}
	return Details{Description: s}
}

// Normalize trims every field and drops the fields that type does not use,
// so that nothing the form did not ask for is stored.
func (d Details) Normalize(t RequestType) Details {
	out := Details{Description: strings.TrimSpace(d.Description)}
	switch t {
	case TypeRectification:
		out.Inaccurate = strings.TrimSpace(d.Inaccurate)
		out.Correction = strings.TrimSpace(d.Correction)
	case TypeRestriction:
		out.Ground = strings.TrimSpace(d.Ground)
	case TypeObjection:
		out.DirectMarketing = d.DirectMarketing
		if !d.DirectMarketing {
			out.Grounds = strings.TrimSpace(d.Grounds)
		}
	case TypeConsentWithdrawal:
		out.Consent = strings.TrimSpace(d.Consent)
	}
	return out
}

// Validate checks normalized details against what SPEC §2 requires of the
// type. The map holds one plain-language message per bad field, keyed by
// "details.<field>".
func (d Details) Validate(t RequestType) map[string]string {
	errs := map[string]string{}
	need := func(field, value, msg string) {
		if value == "" {
			errs["details."+field] = msg
		}
	}
	switch t {
	case TypeRectification:
		need("correction", d.Correction, "Tell us what the correct information is.")
	case TypeRestriction:
		if d.Ground == "" {
			errs["details.ground"] = "Choose why the use of your data should be restricted."
		} else if !slices.Contains(RestrictionGrounds(), d.Ground) {
			errs["details.ground"] = "Choose one of: " + strings.Join(RestrictionGrounds(), ", ") + "."
		}
	case TypeObjection:
		if !d.DirectMarketing {
			need("grounds", d.Grounds, "Tell us why you object, or say that you object to direct marketing.")
		}
	case TypeConsentWithdrawal:
		need("consent", d.Consent, "Tell us which consent you withdraw (for example the newsletter).")
	}
	for field, v := range map[string]string{"description": d.Description, "inaccurate": d.Inaccurate,
		"correction": d.Correction, "grounds": d.Grounds, "consent": d.Consent, "ground": d.Ground} {
		if msg := CheckText(v, MaxDetailLen, true); msg != "" {
			errs["details."+field] = msg
		}
	}
	return errs
}

// CheckText refuses text that is too long or carries control characters
// (multi-line text may hold line breaks and tabs). It returns "" when the
// text is fine and otherwise a message for the subject.
func CheckText(s string, maxLen int, multiline bool) string {
	if !utf8.ValidString(s) {
		return "The text is not valid UTF-8."
	}
	n := 0
	for _, r := range s {
		n++
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			if !multiline {
				return "Use a single line."
			}
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return "Remove the control characters."
		case r == 0x2028 || r == 0x2029 || r == 0x202e || r == 0x202d:
			return "Remove the line and direction control characters."
		}
	}
	if n > maxLen {
		return "Too long: at most " + strconv.Itoa(maxLen) + " characters."
	}
	return ""
}
