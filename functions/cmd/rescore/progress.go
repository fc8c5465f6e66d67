package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/riskwire/didit-risk/internal/profile"
)

// progress draws the run's progress on stderr: redrawn in place on a terminal (at most every
// redraw interval), a plain line every interval otherwise (a log file, CI).
type progress struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	now      func() time.Time

	mu              sync.Mutex
	base, total     int // done before this run; -1 total: unknown
	done            int // done in this run
	changed, stamps int
	started, last   time.Time
}

func newProgress(w io.Writer, tty bool, now func() time.Time) *progress {
	iv := 10 * time.Second
	if tty {
		iv = 200 * time.Millisecond
	}
	return &progress{w: w, tty: tty, interval: iv, now: now}
}

func (p *progress) start(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.base, p.total, p.started = done, total, p.now()
}

// update counts one profile.
func (p *progress) update(res profile.RescoreResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	switch res.Outcome {
	case profile.RescoreChanged:
		p.changed++
	case profile.RescoreRestamped:
		p.stamps++
	}
	if t := p.now(); t.Sub(p.last) >= p.interval {
		p.last = t
		p.draw(t)
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(p.now())
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw(t time.Time) {
	line := progressLine(p.base+p.done, p.total, p.done, t.Sub(p.started), p.changed, p.stamps)
	if p.tty {
		fmt.Fprint(p.w, "\r"+line+"\x1b[K")
		return
	}
	fmt.Fprintln(p.w, line)
}

// progressLine renders one progress line: a bar when the total is known, the rate of this run
// and the time left at that rate.
func progressLine(done, total, thisRun int, elapsed time.Duration, changed, restamped int) string {
	const width = 30
	var b strings.Builder
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(thisRun) / s
	}
	if total >= 0 {
		total = max(total, done)
		filled := width
		pct := 100.0
		if total > 0 {
			filled = done * width / total
			pct = float64(done) * 100 / float64(total)
		}
		fmt.Fprintf(&b, "[%s%s] %d/%d %3.0f%%", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, pct)
	} else {
		fmt.Fprintf(&b, "%d profiles", done)
	}
	fmt.Fprintf(&b, " %.1f/s changed %d restamped %d", rate, changed, restamped)
	if total >= 0 && rate > 0 && done < total {
		fmt.Fprintf(&b, " eta %s", time.Duration(float64(total-done)/rate*float64(time.Second)).Round(time.Second))
	}
	return b.String()
}
