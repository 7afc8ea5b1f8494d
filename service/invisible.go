package service

import "unicode"

// invisibleIn finds a character in an e-mail address that shows as
// nothing: Unicode's format characters (category Cf: zero-width space
// U+200B, joiners U+200C/U+200D, word joiner U+2060, byte-order mark
// U+FEFF, soft hyphen, bidi controls, tag characters). With one in its
// domain, "jane@exa\u200bmple.com" looks like jane@example.com on the
// status page and in the staff queue but names another domain; in either
// part it makes a second spelling of one mailbox, which the
// per-address limits would count apart. No deliverable address needs
// one, so they are refused, not stripped: the subject sees which
// address we would write to.
func invisibleIn(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cf, r) {
			return true
		}
	}
	return false
}
