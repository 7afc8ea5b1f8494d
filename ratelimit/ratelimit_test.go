package ratelimit_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"rightsportal/ratelimit"
)

// TestLimiter: a burst, then one per period; keys apart; Wait takes
// nothing; nil and empty keys are not limited.
func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := ratelimit.New(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("event %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != time.Minute {
		t.Fatalf("over the burst: %v, wait %v (want a minute)", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key was limited")
	}
	if w := l.Wait("a"); w != time.Minute {
		t.Fatalf("Wait = %v", w)
	}
	now = now.Add(time.Minute)
	if w := l.Wait("a"); w != 0 {
		t.Fatalf("Wait after a period = %v", w)
	}
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("one event a period refused")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("two events in one period allowed")
	}
	if ok, _ := l.Allow(""); !ok {
		t.Fatal("the empty key was limited")
	}
	var none *ratelimit.Limiter
	if ok, _ := none.Allow("a"); !ok || none.Wait("a") != 0 || ratelimit.New(0, time.Minute, time.Now) != nil {
		t.Fatal("a nil limiter limits")
	}
}

// TestKeys: IPv6 clients share their /64, mapped IPv4 is plain IPv4,
// hashed keys hold nothing readable and "" stays "", and retries are
// whole seconds, at least one.
func TestKeys(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.7": "192.0.2.7", "::ffff:192.0.2.7": "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "2001:db8:1:2::9": "2001:db8:1:2::/64"} {
		if got := ratelimit.AddrKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("AddrKey(%s) = %s, want %s", in, got, want)
		}
	}
	if k := ratelimit.HashKey("jane@example.com"); len(k) != 16 || strings.Contains(k, "jane") || k != ratelimit.HashKey("jane@example.com") {
		t.Errorf("HashKey = %q", k)
	}
	if ratelimit.HashKey("") != "" {
		t.Error(`HashKey("") is not ""`)
	}
	for wait, want := range map[time.Duration]int{0: 1, 300 * time.Millisecond: 1, 1500 * time.Millisecond: 2, time.Minute: 60} {
		if got := ratelimit.RetrySeconds(wait); got != want {
			t.Errorf("RetrySeconds(%v) = %d, want %d", wait, got, want)
		}
	}
}
