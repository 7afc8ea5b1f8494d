package mailer_test

import (
	"fmt"
	"testing"
	"time"

	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
	"rightsportal/service"
)

// BenchmarkMailThroughput queues b.N verification mails with the workers
// stopped, then starts them and measures how fast the queue drains into
// a local SMTP relay (STARTTLS and AUTH, connections reused).
func BenchmarkMailThroughput(b *testing.B) {
	a := apptest.New(b, apptest.Options{NoJobs: true, SMTP: smtptestOpts()})
	for i := 0; i < b.N; i++ {
		_, err := a.Svc.Submit(b.Context(), service.SubmitInput{Type: "access",
			Email: fmt.Sprintf("bench%d@example.com", i), FullName: "Bench Subject"})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	a.StartJobs()
	if got := len(a.Relay.Wait(b.N, 10*time.Minute)); got < b.N {
		b.Fatalf("only %d of %d mails delivered", got, b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "mails/s")
	b.ReportMetric(float64(a.Relay.Conns()), "connections")
}

func smtptestOpts() smtptest.Options {
	return smtptest.Options{StartTLS: true, Username: "bench", Password: "bench-password"}
}
