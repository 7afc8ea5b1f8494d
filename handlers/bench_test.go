package handlers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"rightsportal/internal/apptest"
)

// BenchmarkIntake files requests through the real router and store (the
// HTTP client is in-process; mail workers stopped), in parallel.
func BenchmarkIntake(b *testing.B) {
	a := apptest.New(b, apptest.Options{NoJobs: true})
	var n atomic.Int64
	client := a.Server.Client()
	b.SetParallelism(8) // 16 clients on 2 cores, as in scripts/bench.sh
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"type":"access","email":"b%d@example.com","full_name":"Bench"}`, n.Add(1))
			resp, err := client.Post(a.URL("/api/v1/requests"), "application/json", bytes.NewBufferString(body))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

// BenchmarkQueueAPI is GET /api/v1/requests, first page, through the
// router.
func BenchmarkQueueAPI(b *testing.B) {
	a := apptest.New(b, apptest.Options{NoJobs: true})
	tok := a.StaffToken("bench@example.org", "reviewer")
	for i := 0; i < 200; i++ {
		id, _ := a.Submit(map[string]any{"type": "access", "email": fmt.Sprintf("q%d@example.com", i), "full_name": "Q"})
		_ = id
	}
	b.ResetTimer()
	for b.Loop() {
		resp, _ := a.GetJSON("/api/v1/requests?status=unverified&limit=50", tok)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkQueuePage is the staff queue page, first page, through the
// router with a session.
func BenchmarkQueuePage(b *testing.B) {
	a := apptest.New(b, apptest.Options{NoJobs: true})
	if _, err := a.Svc.AddStaff(b.Context(), "page@example.org", "Page", "admin", "correct horse battery staple"); err != nil {
		b.Fatal(err)
	}
	res, err := a.Svc.SignIn(b.Context(), "page@example.org", "correct horse battery staple", "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	token := res.Session
	for i := 0; i < 200; i++ {
		a.Submit(map[string]any{"type": "access", "email": fmt.Sprintf("p%d@example.com", i), "full_name": "P"})
	}
	b.ResetTimer()
	for b.Loop() {
		resp, _ := a.Do(http.MethodGet, "/staff?status=unverified", nil, map[string]string{"Cookie": "portal_session=" + token})
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
