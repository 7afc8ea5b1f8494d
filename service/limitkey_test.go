package service

import "testing"

// TestAddressLimitKey: every spelling of one mailbox (case, spaces, a
// +tag, an internationalised domain as U-label or A-label) is one key,
// and other mailboxes keep keys of their own.
func TestAddressLimitKey(t *testing.T) {
	want := "victim@example.com"
	for _, in := range []string{"victim@example.com", " Victim@EXAMPLE.com ", "victim+1@example.com", "VICTIM+news+x@example.com"} {
		if got := AddressLimitKey(in); got != want {
			t.Errorf("AddressLimitKey(%q) = %q, want %q", in, got, want)
		}
	}
	if a, b := AddressLimitKey("zoe+1@bücher.example"), AddressLimitKey("zoe@xn--bcher-kva.example"); a != b {
		t.Errorf("U-label %q and A-label %q are different keys", a, b)
	}
	for _, other := range []string{"victim2@example.com", "victim@example.org", "+tag@example.com"} {
		if AddressLimitKey(other) == want {
			t.Errorf("%q shares the key of %s", other, want)
		}
	}
	if got := AddressLimitKey("+tag@example.com"); got != "+tag@example.com" {
		t.Errorf("a local part that is all tag: %q", got)
	}
}
