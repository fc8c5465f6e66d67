// Package loadgen drives a running local stack (make run) with signed, realistic Didit webhooks
// at a fixed rate, open loop, and measures what a sender and a product reader would see: the
// receiver's ack latency, the time until the profile update is readable, and whether every
// acknowledged webhook made it into Firestore.
package loadgen

import (
	"context"
	"sync"
	"time"
)

// Schedule sends calls open loop: call i is due at start + i/Rate whatever happened to earlier
// calls, as a real sender keeps sending while the system is slow. Latency is timed from the due
// time, so a call delayed by the generator still shows its wait (no coordinated omission).
type Schedule struct {
	Rate        float64 // calls per second
	N           int     // calls in all
	MaxInFlight int     // bounds goroutines and connections; a call finding every slot busy waits for one
	// Slack is how far behind its due time a call may start before it counts as late: a late
	// call means the generator, not the system under test, could not keep the schedule.
	Slack time.Duration
}

// Due is the planned start of call i.
func (s Schedule) Due(start time.Time, i int) time.Time {
	return start.Add(time.Duration(float64(i) * float64(time.Second) / s.Rate))
}

// Run calls fire(i, due) in its own goroutine for every call, each at its due time, and returns
// once all started calls have returned. Calls not started when ctx ends count as unsent.
func (s Schedule) Run(ctx context.Context, start time.Time, fire func(i int, due time.Time)) (late, unsent int) {
	slots := make(chan struct{}, max(s.MaxInFlight, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := range s.N {
		due := s.Due(start, i)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return late, s.N - i
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return late, s.N - i
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return late, s.N - i
		}
		if time.Since(due) > s.Slack {
			late++
		}
		wg.Go(func() {
			defer func() { <-slots }()
			fire(i, due)
		})
	}
	return late, 0
}
