package service

import (
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// sameMailbox reports whether a reply's From address is the address a
// request was filed with. Both are lower-cased already (NormalizeEmail,
// mailer.ParseReply); an internationalised address can still reach us
// in another spelling of the same mailbox: its domain as an A-label
// (zoë@xn--bcher-kva.example, as clients write it for a server without
// SMTPUTF8) or its text decomposed (e + U+0308 for ë, as some systems
// store it). Those are one mailbox, so they match. Nothing else is
// folded: a look-alike letter from another script is another address.
func sameMailbox(a, b string) bool {
	return a == b || mailboxKey(a) == mailboxKey(b)
}

// mailboxKey is addr in NFC, lower-cased, with its domain as IDNA
// resolves it (A-labels). A domain IDNA refuses is kept as it is, so such
// an address still matches its own spelling.
func mailboxKey(addr string) string {
	addr = strings.ToLower(norm.NFC.String(addr))
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	domain := addr[at+1:]
	if d, err := idna.Lookup.ToASCII(domain); err == nil {
		domain = strings.ToLower(d)
	}
	return addr[:at] + "@" + domain
}
