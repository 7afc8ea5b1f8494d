package connectors

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Reach says which addresses an admin-registered endpoint may use. Such
// a URL comes from a person with a browser, not from the operator's
// config, so it must not reach into the host or its network (SSRF):
// loopback and private addresses are refused unless allowed.
type Reach struct {
	// Loopback admits the host itself, over plain http too
	// (development).
	Loopback bool
	// Private admits private, shared and link-local addresses.
	Private bool
}

// ErrAddressRefused is a dial to an address the Reach does not admit.
var ErrAddressRefused = errors.New("connectors: the endpoint's address is not allowed")

// shared is RFC 6598's carrier-grade NAT range, not covered by IsPrivate.
var shared = netip.MustParsePrefix("100.64.0.0/10")

// CheckAddr says whether ip may be dialled.
func (r Reach) CheckAddr(ip netip.Addr) error {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		// 0.0.0.0 and :: reach the host itself on most systems.
		return fmt.Errorf("%w: %s is not a unicast address", ErrAddressRefused, ip)
	case ip.IsLoopback():
		if !r.Loopback {
			return fmt.Errorf("%w: %s is this host (webhooks.allow_loopback is off)", ErrAddressRefused, ip)
		}
	case ip.IsPrivate(), ip.IsLinkLocalUnicast(), shared.Contains(ip):
		if !r.Private {
			return fmt.Errorf("%w: %s is a private or link-local address (webhooks.allow_private is off)", ErrAddressRefused, ip)
		}
	}
	return nil
}

// CheckURL is the registration check of an endpoint URL: https (http
// only to the host itself when loopback is admitted), no credentials, no
// fragment, and a literal address or "localhost" checked at once. Names
// are checked again on every dial (Client), where DNS has answered.
func (r Reach) CheckURL(raw string) (*url.URL, error) {
	if len(raw) > 2048 {
		return nil, errors.New("the URL is longer than 2048 characters")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, errors.New("it is not an absolute URL such as https://hooks.example.org/portal")
	}
	if u.User != nil {
		return nil, errors.New("the URL must not carry a user name or password: the signature authenticates the portal")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, errors.New("the URL must not have a fragment (#…)")
	}
	host := strings.ToLower(u.Hostname())
	loop := host == "localhost" || strings.HasSuffix(host, ".localhost")
	ip, literal := netip.ParseAddr(strings.Trim(host, "[]"))
	if literal == nil {
		loop = ip.Unmap().IsLoopback()
		if err := r.CheckAddr(ip); err != nil {
			return nil, errors.New(strings.TrimPrefix(err.Error(), ErrAddressRefused.Error()+": "))
		}
	} else if loop && !r.Loopback {
		return nil, errors.New("localhost is this host (webhooks.allow_loopback is off)")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !(loop && r.Loopback) {
			return nil, errors.New("the URL must use https (plain http only to this host in development)")
		}
	default:
		return nil, fmt.Errorf("the scheme %q is not https", u.Scheme)
	}
	return u, nil
}

// Client makes calls to registered endpoints: every connection's address
// is checked after DNS has answered (so a name that resolves, or later
// rebinds, to a refused address is never dialled), no proxy from the
// environment is used, and redirects are not followed (a signed call
// goes only where the admin said).
func (r Reach) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrAddressRefused, address)
		}
		return r.CheckAddr(ap.Addr())
	}}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
