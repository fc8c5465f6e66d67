package backtest

import (
	"syscall"
	"testing"
	"time"

	"github.com/riskwire/didit-risk/internal/policy"
)

// BenchmarkReplayTally is the backtest's inner loop on one core: replay a stored assessment
// with the candidate policy (the default one, its recorded model result included) and fold
// the comparison into the tally. The pool is the seeded set (real folded assessments: most
// rules fire somewhere, step-ups included). Target: ≥ 50,000 assessments/s.
func BenchmarkReplayTally(b *testing.B) {
	pool := seeded(b, 1, 400)
	benchReplay(b, pool, policy.Default())
}

// BenchmarkReplayTallyModelRule is the same loop with the model rule counted (not shadow).
func BenchmarkReplayTallyModelRule(b *testing.B) {
	pool := seeded(b, 1, 400)
	benchReplay(b, pool, withModelRule(b))
}

func benchReplay(b *testing.B, pool Records, p *policy.Policy) {
	cmp := Candidate(NewReplayer(p))
	tl := NewTally(TallyOptions{Mode: "backtest"})
	b.ReportAllocs()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		rec := pool[i%len(pool)]
		i++
		cand, _ := cmp(rec.Assessment)
		if err := tl.Add(rec.ProfileID, rec.Assessment.ID, rec.Assessment.PolicyVersion, Stored(rec.Assessment), cand); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "assessments/s")
	// Per CPU-second of this process, which on a shared machine is the per-core figure the
	// wall clock cannot give (GC time included, which runs on other threads).
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "assessments/cpu-s")
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMillion streams 1,000,000 assessments per iteration through Run in flat memory
// (streamFlat fails otherwise) and reports the rate and the heap: run it with -benchtime 1x.
func BenchmarkMillion(b *testing.B) {
	for b.Loop() {
		cpu0 := cpuTime()
		st := streamFlat(b, 1_000_000)
		cpu := cpuTime() - cpu0
		b.ReportMetric(float64(st.n)/st.elapsed.Seconds(), "assessments/s")
		b.ReportMetric(float64(st.n)/cpu.Seconds(), "assessments/cpu-s")
		b.ReportMetric(mb(st.peak), "peak-heap-MB")
		b.ReportMetric(mb(st.after)-mb(st.before), "retained-heap-MB")
		b.Log(st)
	}
}
