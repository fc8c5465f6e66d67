package scoring

import (
	"testing"

	"cel.dev/cel-go/interpreter"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/testdata"
)

// benchPayload is the shared full v3 decision (every feature array).
func benchPayload(b testing.TB) *didit.Webhook {
	b.Helper()
	body := testdata.Read(b, "webhooks/full_v3.json")
	w, err := didit.DecodeWebhook(body)
	require.NoError(b, err)
	return w
}

// BenchmarkScore is the per-webhook cost of scoring once the body is decoded: Extract (with a
// real HMAC hasher) and Evaluate of the default policy. No I/O.
func BenchmarkScore(b *testing.B) { benchScore(b, NewEngine(policy.Default())) }

// BenchmarkScoreWithShadow is BenchmarkScore with a shadow policy (SHADOW_POLICY_FILE)
// evaluated beside the live one on the same signals and history, as the scorer does: a
// second engine of the default policy, the size a candidate policy would be.
func BenchmarkScoreWithShadow(b *testing.B) {
	live, shadow := NewEngine(policy.Default()), NewEngine(policy.Default())
	w := benchPayload(b)
	hash := NewHasher([]byte("bench-key"))
	h := History{Sessions24h: 2, Sessions30d: 3, DistinctDocuments: 1, DistinctDevices: 1, PreviousLevel: "medium",
		PreviousAction: "step_up", StepUps: map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCreated}}}
	b.ReportAllocs()
	for b.Loop() {
		sig := Extract(w, hash)
		a := live.Evaluate(sig, h)
		if s := shadow.Evaluate(a.Signals, h); !a.Scored || !s.Scored {
			b.Fatal("not scored")
		}
	}
}

// benchScore is BenchmarkScore's loop on engine e; BenchmarkScoreWithModel (model_ext_test.go,
// an external test: modelscore imports scoring) runs it with the default model.
func benchScore(b *testing.B, e *Engine) {
	w := benchPayload(b)
	hash := NewHasher([]byte("bench-key"))
	h := History{Sessions24h: 2, Sessions30d: 3, DistinctDocuments: 1, DistinctDevices: 1, PreviousLevel: "medium",
		PreviousAction: "step_up", StepUps: map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCreated}}}
	b.ReportAllocs()
	for b.Loop() {
		sig := Extract(w, hash)
		a := e.Evaluate(sig, h)
		if !a.Scored {
			b.Fatal("not scored")
		}
	}
}

// BenchmarkEvaluate isolates the policy evaluation.
func BenchmarkEvaluate(b *testing.B) {
	w := benchPayload(b)
	e := NewEngine(policy.Default())
	sig := Extract(w, NewHasher([]byte("bench-key")))
	b.ReportAllocs()
	for b.Loop() {
		e.Evaluate(sig, History{})
	}
}

// BenchmarkExtract isolates signal extraction.
func BenchmarkExtract(b *testing.B) {
	w := benchPayload(b)
	hash := NewHasher([]byte("bench-key"))
	b.ReportAllocs()
	for b.Loop() {
		Extract(w, hash)
	}
}

// BenchmarkResolve is the activation alone: every variable the default policy reads, resolved
// once from fresh signals, as the first evaluation of an event does.
func BenchmarkResolve(b *testing.B) {
	sig := Extract(benchPayload(b), NewHasher([]byte("bench-key")))
	h := History{Sessions24h: 2, StepUps: map[policy.StepKind]StepUp{policy.StepNFC: {Status: policy.StepCreated}}}
	var names []string
	for _, r := range policy.Default().Rules {
		names = append(names, r.Vars()...)
	}
	v := vocabulary()
	b.ReportAllocs()
	for b.Loop() {
		a := v.newActivation(&sig, &h)
		for _, n := range names {
			if _, ok := a.ResolveName(n); !ok {
				b.Fatal(n)
			}
		}
		a.release()
	}
}

// BenchmarkEvaluateNoMemo runs every rule of the default policy through CEL over the same
// signals as BenchmarkEvaluate, as Evaluate would without its memo of baseline results: the
// difference between the two is what the memo buys.
func BenchmarkEvaluateNoMemo(b *testing.B) {
	p := policy.Default()
	sig := Extract(benchPayload(b), NewHasher([]byte("bench-key")))
	h := History{}
	v := vocabulary()
	b.ReportAllocs()
	for b.Loop() {
		a := v.newActivation(&sig, &h)
		frame, err := interpreter.NewExecutionFrame(a)
		require.NoError(b, err)
		for _, r := range p.Rules {
			if _, err := r.Eval(frame); err != nil {
				b.Fatal(err)
			}
		}
		frame.Close()
		a.release()
	}
}
