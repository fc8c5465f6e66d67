package backtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
)

var day0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func stored(id string, hours int, action policy.Action) *profile.Assessment {
	at := day0.Add(time.Duration(hours) * time.Hour)
	return &profile.Assessment{ID: id, Score: 10, Level: policy.Low, Action: action, PolicyVersion: "v1",
		EventTime: at, CreatedAt: at.Add(time.Second)}
}

// blockAll is a comparer under which every assessment changes, so Changes lists what was compared.
func blockAll(*profile.Assessment) (Verdict, bool) {
	return Verdict{Score: 100, Level: policy.Critical, Action: policy.Block, Rules: []string{"r"}}, true
}

func TestRunSelects(t *testing.T) {
	recs := Records{
		{"a", stored("a1", 1, policy.Approve)}, {"a", stored("a3", 30, policy.Approve)}, {"a", stored("a2", 20, policy.Approve)},
		{"b", stored("b1", 5, policy.Approve)},
		{"c", stored("c1", 50, policy.Approve)}, {"c", stored("c2", 2, policy.Approve)},
	}
	tests := []struct {
		name          string
		window        Window
		latest        bool
		want          []string
		read, skipped int
	}{
		{"all", Window{}, false, []string{"a1", "a3", "a2", "b1", "c1", "c2"}, 6, 0},
		{"latest per user", Window{}, true, []string{"a3", "b1", "c1"}, 6, 3},
		{"window", Window{Since: day0.Add(2 * time.Hour), Until: day0.Add(30 * time.Hour)}, false, []string{"a2", "b1", "c2"}, 6, 3},
		{"latest in the window", Window{Until: day0.Add(25 * time.Hour)}, true, []string{"a2", "b1", "c2"}, 6, 3},
		{"created_at window", Window{Field: FieldCreatedAt, Since: day0.Add(30*time.Hour + time.Second)}, false, []string{"a3", "c1"}, 6, 4},
		{"empty window", Window{Since: day0.Add(100 * time.Hour)}, true, nil, 6, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), recs, blockAll, Options{Window: tt.window, LatestPerUser: tt.latest})
			require.NoError(t, err)
			var got []string
			for _, c := range rep.Changes {
				got = append(got, c.AssessmentID)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.read, rep.Read)
			assert.Equal(t, tt.skipped, rep.Skipped)
			assert.Equal(t, len(tt.want), rep.Assessments)
			assert.Equal(t, len(tt.want), rep.Stricter)
		})
	}
	_, err := Run(context.Background(), recs, blockAll, Options{Window: Window{Field: "updated_at"}})
	assert.Error(t, err)
}

func TestTally(t *testing.T) {
	tl := NewTally(TallyOptions{Mode: "backtest", ChangesKept: 1, Redefined: []string{"both"}})
	var streamed []Change
	tl.onChange = func(c Change) error { streamed = append(streamed, c); return nil }
	live := Verdict{Score: 30, Level: policy.Medium, Action: policy.StepUp, Rules: []string{"both", "gone"}, Shadow: []string{"m"}}
	tests := []struct {
		cand Verdict
	}{
		{Verdict{Score: 30, Level: policy.Medium, Action: policy.StepUp, Rules: []string{"both", "gone"}, Shadow: []string{"m"}}},
		{Verdict{Score: 95, Level: policy.Critical, Action: policy.Block, Rules: []string{"both", "new"}, Shadow: nil}},
		{Verdict{Score: 5, Level: policy.Low, Action: policy.Approve, Rules: nil}},
	}
	for i, tt := range tests {
		require.NoError(t, tl.Add("p", string(rune('a'+i)), "v1", live, tt.cand))
	}
	r := tl.Report()
	assert.Equal(t, 3, r.Assessments)
	assert.Equal(t, 1, r.Agree)
	assert.Equal(t, 1, r.Stricter)
	assert.Equal(t, 1, r.Looser)
	assert.Equal(t, 2, r.ChangesTotal)
	assert.Len(t, r.Changes, 1, "only ChangesKept kept")
	require.Len(t, streamed, 2, "every change streamed")
	assert.Equal(t, Change{ProfileID: "p", AssessmentID: "b", Live: policy.StepUp, Candidate: policy.Block,
		Added: []string{"new"}, Removed: []string{"gone"}, Redefined: []string{"both"}}, streamed[0])
	assert.Equal(t, []string{"both", "gone"}, streamed[1].Removed)
	assert.Equal(t, 3, r.Actions[1][1]+r.Actions[1][3]+r.Actions[1][0])
	assert.Equal(t, 1, r.Levels[1][3])
	assert.Equal(t, [Bins]int{0, 0, 0, 3, 0, 0, 0, 0, 0, 0}, r.LiveScores)
	assert.Equal(t, [Bins]int{1, 0, 0, 1, 0, 0, 0, 0, 0, 1}, r.CandidateScores)
	assert.Equal(t, []RuleCount{{"both", false, 3, 2}, {"gone", false, 3, 1}, {"m", true, 3, 1}, {"new", false, 0, 1}}, r.Rules)
	assert.Equal(t, map[string]int{"new": 1, "gone": 2, "both": 2}, r.Disagreement)

	stop := errors.New("disk full")
	tl.onChange = func(Change) error { return stop }
	assert.ErrorIs(t, tl.Add("p", "z", "v1", live, tests[1].cand), stop)
}

func TestGuardCheck(t *testing.T) {
	r := Report{Assessments: 100, Stricter: 6, Looser: 2}
	tests := []struct {
		g    Guard
		fail string
	}{
		{Guard{-1, -1}, ""},
		{Guard{0.06, 0.02}, ""},
		{Guard{0.05, 0.05}, "6 stricter (6.0%) > 5.0%"},
		{Guard{0.10, 0.01}, "2 looser (2.0%) > 1.0%"},
		{Guard{0, 0}, "stricter"},
	}
	for _, tt := range tests {
		err := tt.g.Check(r)
		if tt.fail == "" {
			assert.NoError(t, err, "%+v", tt.g)
			continue
		}
		var ge *GuardError
		require.ErrorAs(t, err, &ge)
		assert.Contains(t, err.Error(), tt.fail)
	}
	assert.NoError(t, Guard{0, 0}.Check(Report{}), "nothing compared moves nobody")
}

func TestProgress(t *testing.T) {
	now := day0
	var b bytes.Buffer
	p := &Progress{W: &b, Total: 1000, Now: func() time.Time { return now }}
	p.Update(1)
	now = now.Add(100 * time.Millisecond)
	p.Update(100) // too soon: not drawn
	now = now.Add(time.Second)
	p.Update(500)
	p.Done(1000)
	out := b.String()
	assert.NotContains(t, out, " 100/1000")
	assert.Contains(t, out, " 50% 500/1000")
	assert.True(t, strings.HasSuffix(out, "100% 1000/1000 909/s\n"), out)
	assert.Equal(t, 1, strings.Count(out, "\n"))
}

// TestFlatMemory streams 100,000 assessments through Run and bounds the heap;
// BenchmarkMillion does the same with 1,000,000.
func TestFlatMemory(t *testing.T) {
	st := streamFlat(t, 100_000)
	t.Log(st)
}

// flatStats is what a streamed run measured.
type flatStats struct {
	n                   int
	elapsed             time.Duration
	before, peak, after uint64 // heap in use
	allocs              uint64
}

func (s flatStats) String() string {
	return fmt.Sprintf("%d assessments in %s: %.0f/s; heap before %.1f MB, sampled peak %.1f MB, after %.1f MB; %.1f allocs/assessment",
		s.n, s.elapsed.Round(time.Millisecond), float64(s.n)/s.elapsed.Seconds(), mb(s.before), mb(s.peak), mb(s.after), float64(s.allocs)/float64(s.n))
}

// streamFlat streams n assessments through Run — the command's path: source, window, replay of
// the candidate, tally — from a pool of 2,000-odd real folded assessments copied afresh for each
// one (as a Firestore page decodes fresh structs), and fails unless the heap stays flat: within
// 64 MB of its start while running and within 8 MB after.
func streamFlat(t testing.TB, n int) flatStats {
	pool := seeded(t, 3, 1000)
	cand := NewReplayer(policy.Default())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st := flatStats{n: n, before: before.HeapAlloc}
	start := time.Now()
	rep, err := Run(context.Background(), Repeat{Pool: pool, N: n}, Candidate(cand), Options{Window: Window{Since: day0},
		Progress: func(read int) {
			if read%50_000 == 0 {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				st.peak = max(st.peak, m.HeapAlloc)
			}
		}})
	st.elapsed = time.Since(start)
	require.NoError(t, err)
	runtime.GC()
	runtime.ReadMemStats(&after)
	st.after, st.allocs = after.HeapAlloc, after.Mallocs-before.Mallocs
	require.Equal(t, n, rep.Assessments)
	assert.Zero(t, rep.ChangesTotal, "the live policy changes nobody")
	assert.Less(t, int64(st.after)-int64(st.before), int64(8<<20), "the heap after the run stays within 8 MB of before: %s", st)
	assert.Less(t, st.peak, st.before+64<<20, "the heap while running stays within 64 MB of before: %s", st)
	return st
}

func mb(b uint64) float64 { return float64(b) / 1e6 }
