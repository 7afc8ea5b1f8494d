// Command smtpsink is the benchmark's mail relay: a real SMTP server
// (go-smtp, the same library as the portal's reply listener) on loopback
// that accepts every message, keeps nothing but each Message-ID, and on
// GET /stats answers how many messages arrived, how many distinct
// Message-IDs they carried and how many arrived more than once. The
// benchmark runs the portal with its workers sending here, then checks
// that every filed request's mail arrived exactly once.
//
//	go run ./cmd/smtpsink -smtp 127.0.0.1:2526 -http 127.0.0.1:2580
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"net/textproto"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// tally counts what arrived, by Message-ID.
type tally struct {
	mu       sync.Mutex
	messages int
	ids      map[string]int
	dups     int
	noID     int
}

func (t *tally) add(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.messages++
	if id == "" {
		t.noID++
		return
	}
	t.ids[id]++
	if t.ids[id] == 2 {
		t.dups++
	}
}

// Stats is the answer of GET /stats.
type Stats struct {
	Messages int `json:"messages"`
	Distinct int `json:"distinct"`
	// Duplicates counts Message-IDs that arrived more than once.
	Duplicates int `json:"duplicates"`
	WithoutID  int `json:"without_id"`
}

func (t *tally) stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{Messages: t.messages, Distinct: len(t.ids), Duplicates: t.dups, WithoutID: t.noID}
}

type backend struct{ t *tally }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{t: b.t}, nil }

type session struct{ t *tally }

func (*session) Mail(string, *smtp.MailOptions) error { return nil }
func (*session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*session) Reset()                               {}
func (*session) Logout() error                        { return nil }

// Data reads the header for its Message-ID and drains the rest.
func (x *session) Data(r io.Reader) error {
	br := bufio.NewReader(r)
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return err
	}
	x.t.add(h.Get("Message-Id"))
	return nil
}

func main() {
	smtpAddr := flag.String("smtp", "127.0.0.1:2526", "SMTP listen address")
	httpAddr := flag.String("http", "127.0.0.1:2580", "address of GET /stats")
	flag.Parse()
	t := &tally{ids: map[string]int{}}
	s := smtp.NewServer(backend{t: t})
	s.Addr = *smtpAddr
	s.Domain = "sink.localhost"
	s.AllowInsecureAuth = true
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	s.MaxMessageBytes = 10 << 20
	http.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(t.stats())
	})
	go func() {
		hs := &http.Server{Addr: *httpAddr, ReadHeaderTimeout: 5 * time.Second}
		log.Fatal(hs.ListenAndServe())
	}()
	log.Fatal(s.ListenAndServe())
}
