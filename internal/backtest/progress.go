package backtest

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress draws a progress bar on a terminal (carriage returns, no new lines) at most every
// Every, with the rate; with Total unknown (0) it shows the count alone.
type Progress struct {
	W     io.Writer
	Total int
	Every time.Duration
	Now   func() time.Time

	start, last time.Time
}

// Update shows n assessments read.
func (p *Progress) Update(n int) {
	now := p.now()
	if p.start.IsZero() {
		p.start = now
	}
	every := p.Every
	if every == 0 {
		every = 200 * time.Millisecond
	}
	if now.Sub(p.last) < every && (p.Total == 0 || n < p.Total) {
		return
	}
	p.last = now
	p.draw(n, now)
}

// Done draws the final state and ends the line.
func (p *Progress) Done(n int) {
	if p.start.IsZero() {
		return
	}
	p.draw(n, p.now())
	fmt.Fprintln(p.W)
}

func (p *Progress) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Progress) draw(n int, now time.Time) {
	rate := 0.0
	if d := now.Sub(p.start).Seconds(); d > 0 {
		rate = float64(n) / d
	}
	const width = 30
	if p.Total > 0 {
		f := min(float64(n)/float64(p.Total), 1)
		full := int(f * width)
		fmt.Fprintf(p.W, "\r[%s%s] %3.0f%% %d/%d %.0f/s", strings.Repeat("#", full), strings.Repeat(".", width-full), 100*f, n, p.Total, rate)
	} else {
		fmt.Fprintf(p.W, "\r%d assessments %.0f/s", n, rate)
	}
}
