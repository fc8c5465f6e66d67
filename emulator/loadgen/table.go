package loadgen

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Row is the figures of one load run, or the median of several runs of one configuration.
type Row struct {
	Rate     float64
	Duration time.Duration
	Runs     int // runs behind the figures: 1 for a single run
	Acked    int
	AckP50   time.Duration
	AckP95   time.Duration
	AckP99   time.Duration
	E2EP50   time.Duration
	E2EP99   time.Duration
	E2E      int // decisions timed end to end
	Lost     int
	Errors   int
}

// RowOf keeps the figures of a summary that go into the README's table.
func RowOf(s Summary) Row {
	errs := 0
	for _, n := range s.Errors {
		errs += n
	}
	return Row{
		Rate: s.Rate, Duration: s.Duration, Runs: 1, Acked: s.Acked,
		AckP50: s.Ack.Percentile(50), AckP95: s.Ack.Percentile(95), AckP99: s.Ack.Percentile(99),
		E2EP50: s.E2E.Percentile(50), E2EP99: s.E2E.Percentile(99), E2E: len(s.E2E),
		Lost: s.Lost, Errors: errs,
	}
}

// Median is the column-wise median of runs of one configuration: each figure is the median of
// that figure over the runs, so one slow run (another process on the machine) moves no column.
// With an even number of runs the lower of the two middle values is taken, so every figure is
// one that was measured. Rate and duration come from the first run.
func Median(runs []Row) Row {
	if len(runs) == 0 {
		return Row{}
	}
	med := func(f func(Row) int64) int64 {
		v := make([]int64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[(len(v)-1)/2]
	}
	d := func(f func(Row) time.Duration) time.Duration {
		return time.Duration(med(func(r Row) int64 { return int64(f(r)) }))
	}
	n := func(f func(Row) int) int {
		return int(med(func(r Row) int64 { return int64(f(r)) }))
	}
	return Row{
		Rate: runs[0].Rate, Duration: runs[0].Duration, Runs: len(runs),
		Acked:  n(func(r Row) int { return r.Acked }),
		AckP50: d(func(r Row) time.Duration { return r.AckP50 }),
		AckP95: d(func(r Row) time.Duration { return r.AckP95 }),
		AckP99: d(func(r Row) time.Duration { return r.AckP99 }),
		E2EP50: d(func(r Row) time.Duration { return r.E2EP50 }),
		E2EP99: d(func(r Row) time.Duration { return r.E2EP99 }),
		E2E:    n(func(r Row) int { return r.E2E }),
		Lost:   n(func(r Row) int { return r.Lost }),
		Errors: n(func(r Row) int { return r.Errors }),
	}
}

// Line is the one-line form of a median row, printed after its runs.
func (r Row) Line() string {
	return fmt.Sprintf("median: rate=%g/s duration=%s runs=%d acked=%d ack_p50=%s ack_p95=%s ack_p99=%s e2e_p50=%s e2e_p99=%s lost=%d errors=%d",
		r.Rate, r.Duration, r.Runs, r.Acked, human(r.AckP50), human(r.AckP95), human(r.AckP99),
		human(r.E2EP50), human(r.E2EP99), r.Lost, r.Errors)
}

// Table renders rows as the README's markdown table.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| rate | runs | acked | ack p50 | ack p95 | ack p99 | e2e p50 | e2e p99 | lost | errors |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %g/s × %.0f s | %d | %s | %s | %s | %s | %s | %s | %d | %d |\n",
			r.Rate, r.Duration.Seconds(), r.Runs, thousands(r.Acked),
			human(r.AckP50), human(r.AckP95), human(r.AckP99), human(r.E2EP50), human(r.E2EP99), r.Lost, r.Errors)
	}
	return b.String()
}

// human renders a latency as the README does: 8.2 ms, 175 ms, 1.3 s, 35 s.
func human(d time.Duration) string {
	switch {
	case d <= 0:
		return "n/a"
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
}

// thousands renders 12000 as 12,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Good is the knee's test of a row: nothing lost, no errors, decisions timed, and end-to-end
// p99 within the bound.
func (r Row) Good(maxE2EP99 time.Duration) bool {
	return r.Lost == 0 && r.Errors == 0 && r.E2E > 0 && r.E2EP99 <= maxE2EP99
}

// Knee steps through rates in increasing order, measuring each, until a row fails Good: the
// knee is the last good rate. It returns every row measured, the knee (zero if the first rate
// already failed) and whether a rate failed (false: the knee is above the highest rate tried).
func Knee(ctx context.Context, rates []float64, maxE2EP99 time.Duration, measure func(ctx context.Context, rate float64) (Row, error)) (rows []Row, knee Row, bounded bool, err error) {
	for _, rate := range rates {
		if err := ctx.Err(); err != nil {
			return rows, knee, bounded, err
		}
		r, err := measure(ctx, rate)
		if err != nil {
			return rows, knee, bounded, fmt.Errorf("knee at %g/s: %w", rate, err)
		}
		rows = append(rows, r)
		if !r.Good(maxE2EP99) {
			return rows, knee, true, nil
		}
		knee = r
	}
	return rows, knee, false, nil
}

// ParseRates reads a comma-separated list of rates ("50,100,200"), which must increase.
func ParseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("rates %q: %q is not a positive number", s, f)
		}
		if len(out) > 0 && r <= out[len(out)-1] {
			return nil, fmt.Errorf("rates %q: must increase", s)
		}
		out = append(out, r)
	}
	return out, nil
}
