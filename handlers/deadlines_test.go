package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"rightsportal/handlers"
	"rightsportal/internal/apptest"
	"rightsportal/models"
)

// dlTimeouts are serve's timeouts shrunk to a test's scale.
var dlTimeouts = handlers.Timeouts{ReadHeader: 5 * time.Second, Read: 200 * time.Millisecond,
	Write: 200 * time.Millisecond, Idle: 5 * time.Second}

// dlServe serves a's router through the server serve builds
// (handlers.NewServer), with timeouts to, on a listener whose
// connections have small socket buffers: a slow client then holds the
// server's writes back instead of the kernel soaking up the download.
func dlServe(t *testing.T, a *apptest.App, to handlers.Timeouts) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := handlers.NewServer(a.Server.Config.Handler, to, log.New(io.Discard, "", 0))
	go srv.Serve(smallBuffers{ln})
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// dlClient is a client whose connections have a small receive buffer.
func dlClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(4 << 10)
			}
			return c, err
		}}}
}

// slowReader hands out data a chunk at a time with a pause before each:
// a slow link, in either direction.
type slowReader struct {
	data  []byte
	chunk int
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestCSVExportOutlastsWriteTimeout: an export read by a slow client
// takes many times the server's write timeout and still arrives whole,
// because the handler moves the connection's write deadline on with
// every page it sends.
func TestCSVExportOutlastsWriteTimeout(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := []*models.Staff{wsStaff(t, a, "ann@example.org", "reviewer"), wsStaff(t, a, "bob@example.org", "admin")}
	csvSeed(t, a, 600, staff)
	tok := a.StaffToken("ada@example.org", "admin")
	base := dlServe(t, a, dlTimeouts)

	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/requests.csv?status=all", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	resp, err := dlClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %d", resp.StatusCode)
	}
	// About 150 KB taken 4 KB every 30 ms: over a second, however fast
	// the machine: many times the write timeout.
	var body bytes.Buffer
	br := bufio.NewReaderSize(resp.Body, 4<<10)
	buf := make([]byte, 4<<10)
	for {
		time.Sleep(30 * time.Millisecond)
		n, err := br.Read(buf)
		body.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %s and %d bytes: %v", time.Since(start), body.Len(), err)
		}
	}
	took := time.Since(start)
	if took < 5*dlTimeouts.Write {
		t.Fatalf("the download took %s: too fast to outlast the timeouts, the test proves nothing", took)
	}
	// Whole: the same file as taken at once from the test's own server.
	_, want := a.Do(http.MethodGet, "/api/v1/requests.csv?status=all", nil, bearer(tok))
	recs, err := csv.NewReader(bytes.NewReader(want)).ReadAll()
	if err != nil || len(recs) < 400 {
		t.Fatalf("the export taken at once: %d records, %v", len(recs), err)
	}
	if !bytes.Equal(body.Bytes(), want) {
		t.Fatalf("after %s: %d bytes, want the %d of the export taken at once; it ends %q", took, body.Len(), len(want),
			body.Bytes()[max(0, body.Len()-200):])
	}
}

// TestUploadOutlastsReadTimeout: a subject's files sent over a slow link
// take several times the server's read and write timeouts and are still
// taken, and the answer still arrives: the upload routes give the body
// the time a slow link needs for the largest upload allowed.
func TestUploadOutlastsReadTimeout(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	base := dlServe(t, a, dlTimeouts)
	email := trEmail("slow-upload")
	body, ctype := attBody(t, attForm(email), []attFile{{"scan.pdf", "application/pdf", attPDF(strings.Repeat("x", 1000))}})
	n := body.Len()
	// About 20 KB, 1 KB every 50 ms: a second at the least.
	req, _ := http.NewRequest(http.MethodPost, base+"/request", &slowReader{data: body.Bytes(), chunk: 1 << 10, pause: 50 * time.Millisecond})
	req.ContentLength = int64(n)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "text/html")
	start := time.Now()
	c := dlClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}
	resp.Body.Close()
	took := time.Since(start)
	if took < 4*dlTimeouts.Read {
		t.Fatalf("the upload took %s: too fast to outlast the timeouts, the test proves nothing", took)
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/request/sent" {
		t.Fatalf("slow upload of %d bytes over %s: %d %s", n, took, resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := attRows(a, attRequestID(t, a, email)); got != 1 {
		t.Fatalf("%d attachments stored, want 1", got)
	}
}
