package connectors

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestReachCheckAddr(t *testing.T) {
	for _, c := range []struct {
		ip                      string
		none, loopback, private bool // allowed with Reach{}, {Loopback}, {Private}
	}{
		{"93.184.216.34", true, true, true},
		{"2606:2800:220:1::", true, true, true},
		{"127.0.0.1", false, true, false},
		{"127.8.9.10", false, true, false},
		{"::1", false, true, false},
		{"::ffff:127.0.0.1", false, true, false},
		{"10.0.0.1", false, false, true},
		{"172.16.5.4", false, false, true},
		{"192.168.1.1", false, false, true},
		{"100.64.0.1", false, false, true},
		{"169.254.169.254", false, false, true},
		{"fe80::1", false, false, true},
		{"fd00::1", false, false, true},
		{"::ffff:10.0.0.1", false, false, true},
		{"0.0.0.0", false, false, false},
		{"::", false, false, false},
		{"224.0.0.1", false, false, false},
	} {
		ip := netip.MustParseAddr(c.ip)
		for _, r := range []struct {
			reach Reach
			want  bool
		}{{Reach{}, c.none}, {Reach{Loopback: true}, c.loopback}, {Reach{Private: true}, c.private}} {
			err := r.reach.CheckAddr(ip)
			if (err == nil) != r.want {
				t.Errorf("%+v.CheckAddr(%s) = %v, want allowed %v", r.reach, c.ip, err, r.want)
			}
			if err != nil && !errors.Is(err, ErrAddressRefused) {
				t.Errorf("%s: error %v is not ErrAddressRefused", c.ip, err)
			}
		}
	}
}

func TestReachCheckURL(t *testing.T) {
	ok := []string{"https://hooks.example.org/portal", "https://93.184.216.34:8443/x?y=1"}
	bad := []string{"http://hooks.example.org/", "https://127.0.0.1/", "https://localhost/", "https://a.localhost/",
		"https://10.0.0.1/", "https://[fe80::1]/", "https://u:p@hooks.example.org/", "https://hooks.example.org/#x",
		"gopher://hooks.example.org/", "/relative", "https://", "https://" + strings.Repeat("a", 2100) + ".org/"}
	for _, u := range ok {
		if _, err := (Reach{}).CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want ok", u, err)
		}
	}
	for _, u := range bad {
		if _, err := (Reach{}).CheckURL(u); err == nil {
			t.Errorf("CheckURL(%.60q) allowed", u)
		}
	}
	// Development: plain http to this host only.
	dev := Reach{Loopback: true}
	for _, u := range []string{"http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/", "https://127.0.0.1/"} {
		if _, err := dev.CheckURL(u); err != nil {
			t.Errorf("loopback allowed: CheckURL(%q) = %v", u, err)
		}
	}
	for _, u := range []string{"http://hooks.example.org/", "http://10.0.0.1/"} {
		if _, err := dev.CheckURL(u); err == nil {
			t.Errorf("loopback allowed: CheckURL(%q) allowed", u)
		}
	}
	if _, err := (Reach{Private: true}).CheckURL("http://10.0.0.1/"); err == nil {
		t.Error("private allowed: plain http to a private address allowed")
	}
}

// TestReachClientDials: the client checks the address it dials after
// DNS, so a name that resolves to a refused address (here localhost) is
// never reached, and it does not follow redirects.
func TestReachClientDials(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{srv.URL, byName} {
		_, err := (Reach{}).Client(5 * time.Second).Get(u)
		if !errors.Is(err, ErrAddressRefused) {
			t.Fatalf("GET %s without loopback: %v, want ErrAddressRefused", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the refused calls reached the server %d times", hits.Load())
	}
	resp, err := (Reach{Loopback: true}).Client(5 * time.Second).Get(srv.URL + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 1 {
		t.Fatalf("redirect: %d after %d hits, want 302 not followed", resp.StatusCode, hits.Load())
	}
}
