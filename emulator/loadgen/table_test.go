package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func row(rate float64, acked int, ackP99, e2eP99 time.Duration, lost int) Row {
	return Row{Rate: rate, Duration: 20 * time.Second, Runs: 1, Acked: acked,
		AckP50: ackP99 / 4, AckP95: ackP99 / 2, AckP99: ackP99, E2EP50: e2eP99 / 5, E2EP99: e2eP99, E2E: acked, Lost: lost}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		runs []Row
		want Row
	}{
		{"none", nil, Row{}},
		{"one run is its own median", []Row{row(50, 1000, 30*ms, 150*ms, 0)},
			Row{Rate: 50, Duration: 20 * time.Second, Runs: 1, Acked: 1000, AckP50: 7500 * time.Microsecond, AckP95: 15 * ms, AckP99: 30 * ms, E2EP50: 30 * ms, E2EP99: 150 * ms, E2E: 1000}},
		{"each column on its own: one slow run moves nothing",
			[]Row{row(100, 2000, 40*ms, 900*ms, 0), row(100, 1990, 400*ms, 9*time.Second, 3), row(100, 2000, 30*ms, 800*ms, 0)},
			Row{Rate: 100, Duration: 20 * time.Second, Runs: 3, Acked: 2000, AckP50: 10 * ms, AckP95: 20 * ms, AckP99: 40 * ms, E2EP50: 180 * ms, E2EP99: 900 * ms, E2E: 2000}},
		{"even count takes the lower middle, a measured value",
			[]Row{row(100, 10, 10*ms, 100*ms, 0), row(100, 40, 40*ms, 400*ms, 0), row(100, 20, 20*ms, 200*ms, 0), row(100, 30, 30*ms, 300*ms, 0)},
			Row{Rate: 100, Duration: 20 * time.Second, Runs: 4, Acked: 20, AckP50: 5 * ms, AckP95: 10 * ms, AckP99: 20 * ms, E2EP50: 40 * ms, E2EP99: 200 * ms, E2E: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Median(tc.runs))
		})
	}
}

func TestRowOf(t *testing.T) {
	s := Summary{Rate: 50, Duration: 20 * time.Second, Acked: 4, Ack: ms1(1, 2, 3, 40), E2E: ms1(100, 200), Lost: 1,
		Errors: map[string]int{"503": 2, "transport": 1}}
	assert.Equal(t, Row{Rate: 50, Duration: 20 * time.Second, Runs: 1, Acked: 4,
		AckP50: 2 * time.Millisecond, AckP95: 40 * time.Millisecond, AckP99: 40 * time.Millisecond,
		E2EP50: 100 * time.Millisecond, E2EP99: 200 * time.Millisecond, E2E: 2, Lost: 1, Errors: 3}, RowOf(s))
}

func TestTable(t *testing.T) {
	ms := time.Millisecond
	got := Table([]Row{
		{Rate: 50, Duration: 20 * time.Second, Runs: 3, Acked: 1000, AckP50: 8200 * time.Microsecond, AckP95: 17 * ms, AckP99: 26400 * time.Microsecond, E2EP50: 87 * ms, E2EP99: 175 * ms, E2E: 800},
		{Rate: 200, Duration: 20 * time.Second, Runs: 3, Acked: 12000, AckP50: 7 * ms, AckP95: 21800 * time.Microsecond, AckP99: 44600 * time.Microsecond, E2EP50: 1300 * ms, E2EP99: 35 * time.Second, E2E: 9000, Lost: 2, Errors: 1},
		{Rate: 10, Duration: 5 * time.Second, Runs: 1},
	})
	assert.Equal(t, "| rate | runs | acked | ack p50 | ack p95 | ack p99 | e2e p50 | e2e p99 | lost | errors |\n"+
		"| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"+
		"| 50/s × 20 s | 3 | 1,000 | 8.2 ms | 17.0 ms | 26.4 ms | 87.0 ms | 175 ms | 0 | 0 |\n"+
		"| 200/s × 20 s | 3 | 12,000 | 7.0 ms | 21.8 ms | 44.6 ms | 1.3 s | 35 s | 2 | 1 |\n"+
		"| 10/s × 5 s | 1 | 0 | n/a | n/a | n/a | n/a | n/a | 0 | 0 |\n", got)
}

func TestKnee(t *testing.T) {
	ms := time.Millisecond
	// A stack whose e2e p99 grows with the rate, and which loses webhooks above 400/s.
	stack := func(_ context.Context, rate float64) (Row, error) {
		lost := 0
		if rate > 400 {
			lost = 1
		}
		return row(rate, int(rate*20), 30*ms, time.Duration(rate*8)*ms, lost), nil
	}
	for _, tc := range []struct {
		name     string
		rates    []float64
		max      time.Duration
		measured []float64
		knee     float64
		bounded  bool
	}{
		{"p99 crosses the bound between 100 and 150", []float64{50, 100, 150, 200}, time.Second, []float64{50, 100, 150}, 100, true},
		{"a rate exactly at the bound is good", []float64{125, 150}, time.Second, []float64{125, 150}, 125, true},
		{"loss ends the search even under the p99 bound", []float64{300, 400, 500}, time.Hour, []float64{300, 400, 500}, 400, true},
		{"first rate already bad: no knee", []float64{200, 300}, time.Second, []float64{200}, 0, true},
		{"never bad: the knee is above the last rate", []float64{10, 20}, time.Second, []float64{10, 20}, 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, knee, bounded, err := Knee(context.Background(), tc.rates, tc.max, stack)
			require.NoError(t, err)
			var measured []float64
			for _, r := range rows {
				measured = append(measured, r.Rate)
			}
			assert.Equal(t, tc.measured, measured)
			assert.Equal(t, tc.knee, knee.Rate)
			assert.Equal(t, tc.bounded, bounded)
		})
	}
	t.Run("an error stops the search and names the rate", func(t *testing.T) {
		boom := errors.New("emulator gone")
		rows, knee, _, err := Knee(context.Background(), []float64{50, 100}, time.Second, func(_ context.Context, rate float64) (Row, error) {
			if rate == 100 {
				return Row{}, boom
			}
			return stack(context.Background(), rate)
		})
		require.ErrorIs(t, err, boom)
		assert.Contains(t, err.Error(), "100/s")
		assert.Len(t, rows, 1)
		assert.Equal(t, 50.0, knee.Rate)
	})
	t.Run("no decisions timed is not good", func(t *testing.T) {
		assert.False(t, Row{E2EP99: time.Millisecond}.Good(time.Second))
	})
}

func TestParseRates(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []float64
		err  string
	}{
		{"50,100,200", []float64{50, 100, 200}, ""},
		{" 12.5 , 25", []float64{12.5, 25}, ""},
		{"100,50", nil, "must increase"},
		{"50,50", nil, "must increase"},
		{"50,x", nil, "not a positive number"},
		{"50x", nil, "not a positive number"},
		{"0", nil, "not a positive number"},
		{"", nil, "not a positive number"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRates(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
