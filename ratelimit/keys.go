package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/netip"
	"time"
)

// AddrKey is the key of a client address: an IPv4 address as it is, an
// IPv6 one by its /64, the block one subscriber or site usually holds.
func AddrKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// HashKey keys a limit by a short hash of s (an address, a token), so
// that limiters hold none; "" stays "", which no limit counts.
func HashKey(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// RetrySeconds is wait in whole seconds, at least one: what Retry-After
// and an SMTP "try again" say.
func RetrySeconds(wait time.Duration) int {
	return max(int(math.Ceil(wait.Seconds())), 1)
}
