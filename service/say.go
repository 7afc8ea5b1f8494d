package service

import (
	"strconv"
	"strings"

	"rightsportal/i18n"
	"rightsportal/workflow"
)

// checkKeys are the catalog keys of the messages the checks of a
// subject's input give (workflow's, which stays free of languages, and
// NormalizeEmail's), by their English text.
var checkKeys = map[string]string{
	"Enter your e-mail address.":                           "check.email_required",
	"This e-mail address is too long.":                     "check.email_too_long",
	"Enter one e-mail address, like name@example.com.":     "check.email_single",
	"Enter a valid e-mail address, like name@example.com.": "check.email_invalid",
	"Remove the invisible characters (such as a zero-width space) from the e-mail address: they often come along when an address is copied.": "check.email_invisible",
	"Tell us what the correct information is.":                            "check.correction",
	"Choose why the use of your data should be restricted.":               "check.ground",
	"Tell us why you object, or say that you object to direct marketing.": "check.grounds",
	"Tell us which consent you withdraw (for example the newsletter).":    "check.consent",
	"The text is not valid UTF-8.":                                        "check.not_utf8",
	"Use a single line.":                                                  "check.single_line",
	"Remove the control characters.":                                      "check.control_chars",
	"Remove the line and direction control characters.":                   "check.direction_chars",
}

// sayCheck is a check's message in l's language; a message the catalog
// does not know stays as it is.
func sayCheck(l *i18n.Localizer, msg string) string {
	if key, ok := checkKeys[msg]; ok {
		return l.T(key)
	}
	if rest, ok := strings.CutPrefix(msg, "Too long: at most "); ok {
		if n, err := strconv.Atoi(strings.TrimSuffix(rest, " characters.")); err == nil {
			return l.T("check.too_long", "Max", n)
		}
	}
	if strings.HasPrefix(msg, "Choose one of: ") {
		return l.T("check.ground_unknown")
	}
	return msg
}

// sayChecks puts every message of a check's result into l's language.
func sayChecks(l *i18n.Localizer, errs map[string]string) map[string]string {
	for k, v := range errs {
		errs[k] = sayCheck(l, v)
	}
	return errs
}

// checkAnswer checks a subject's free text (an answer, an appeal) and
// says what is wrong in lang.
func (s *Service) checkAnswer(text, lang string) error {
	if m := workflow.CheckText(text, MaxAnswerLen, true); m != "" {
		return &ValidationError{Fields: map[string]string{"message": sayCheck(s.loc(lang), m)}}
	}
	return nil
}
