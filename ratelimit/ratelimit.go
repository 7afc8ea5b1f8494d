// Package ratelimit is the keyed rate limiter both the web app and the
// inbound SMTP listener use: GCRA, where each key may use burst events
// at once and then one per every. It keeps one timestamp per key and
// forgets keys whose allowance has fully recovered, so memory stays
// bounded by the recently active clients.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter is safe for concurrent use. A nil Limiter allows everything.
type Limiter struct {
	mu     sync.Mutex
	every  time.Duration
	burst  int
	tat    map[string]time.Time // theoretical arrival time per key
	now    func() time.Time
	sweeps time.Time
}

// New is a limiter of burst events, then one per every; nil (no limit)
// when either is not positive. now is the clock (time.Now outside tests).
func New(burst int, every time.Duration, now func() time.Time) *Limiter {
	if burst < 1 || every <= 0 {
		return nil
	}
	return &Limiter{every: every, burst: burst, tat: map[string]time.Time{}, now: now}
}

// Allow takes one event for key, or answers how long to wait. An empty
// key (nothing to count by) is not limited.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || key == "" {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	if wait := l.late(key, now); wait > 0 {
		return false, wait
	}
	tat := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	l.tat[key] = tat.Add(l.every)
	return true, 0
}

// Wait answers how long key must wait before Allow would pass, taking
// nothing: for limits that count an event only once it is known to
// belong to key.
func (l *Limiter) Wait(key string) time.Duration {
	if l == nil || key == "" {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.late(key, l.now())
}

// late is how far key is past its allowance at now; 0 while it has one.
func (l *Limiter) late(key string, now time.Time) time.Duration {
	tat := l.tat[key]
	if !tat.After(now) {
		return 0
	}
	return max(tat.Sub(now)-time.Duration(l.burst-1)*l.every, 0)
}

func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.sweeps) < time.Minute && len(l.tat) < 100_000 {
		return
	}
	l.sweeps = now
	for k, t := range l.tat {
		if t.Before(now) {
			delete(l.tat, k)
		}
	}
}
