package profile

import (
	"testing"
	"time"

	"github.com/riskwire/didit-risk/internal/policy"
)

// BenchmarkRecord is the scorer's in-process work on a webhook once decoded, Firestore apart:
// a returning user's second decided session folded into the profile (both sessions evaluated)
// and the assessment built.
func BenchmarkRecord(b *testing.B) { benchRecord(b, NewEvaluator(policy.Default())) }

// BenchmarkRecordWithShadow is the same with a shadow policy beside the live one: evaluated
// once, on the verdict's session; the difference is the shadow's cost per webhook.
func BenchmarkRecordWithShadow(b *testing.B) {
	benchRecord(b, WithShadow(NewEvaluator(policy.Default()), NewEvaluator(policy.Default())))
}

func benchRecord(b *testing.B, eng Evaluator) {
	first := decided("e1", "s1", "Approved", t0, "doc-a", "POSSIBLE_DUPLICATED_USER")
	second := decided("e2", "s2", "Approved", t0.Add(48*time.Hour), "doc-b")
	b.ReportAllocs()
	for b.Loop() {
		p := newProfile(Event{UserID: "u"}, t0)
		_, _ = recordT(&p, first, eng, t0, nil)
		if a, _ := recordT(&p, second, eng, t0, nil); a == nil {
			b.Fatal("no assessment")
		}
	}
}
