package scoring

import "testing"

// Exported for the external tests (model_ext_test.go), which use modelscore, itself an
// importer of scoring.

// BenchScore is benchScore.
func BenchScore(b *testing.B, e *Engine) { benchScore(b, e) }

// GoldenWant is a golden case's expected outcome.
type GoldenWant = goldenWant

// RunGolden runs the golden cases with an engine built with opts, checking each with check.
func RunGolden(t *testing.T, opts []Option, check func(t *testing.T, want, got *GoldenWant, a Assessment)) {
	runGolden(t, opts, false, check)
}

// BenchPayload is benchPayload.
var BenchPayload = benchPayload
