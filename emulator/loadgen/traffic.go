package loadgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/webhook"
)

// Webhook is one planned delivery.
type Webhook struct {
	Kind    scenario.Kind
	User    string
	Session string
	EventID string
}

// HasDecision reports whether the scorer writes an assessment (and publishes a decision) for
// it; an "In Progress" webhook only moves its session's state.
func (w Webhook) HasDecision() bool { return w.Kind != scenario.Start }

// The mix: a quarter of the sessions announce "In Progress" before their decision, and
// decisions are mostly clean, with step-ups, reviews and blocks in between.
const startShare = 0.25

var decisionMix = []struct {
	kind   scenario.Kind
	weight float64
}{{scenario.Clean, 0.45}, {scenario.StepUp, 0.20}, {scenario.Review, 0.15}, {scenario.Risky, 0.20}}

// maxStartLead is how many deliveries later a session's decision follows its "In Progress".
const maxStartLead = 100

// Plan returns n deliveries for one run, the same for the same seed. Sessions pick their user
// uniformly among users, so with more sessions than users many users have several sessions,
// some concurrently in flight, as returning users do. Each session gets exactly one decision
// (never two), so every acked decision must produce an assessment: none can be stale.
// The run id keeps ids fresh, so a re-run is not deduplicated against an earlier one.
func Plan(seed uint64, users, n int, run string) []Webhook {
	r := rand.New(rand.NewPCG(seed, 0x10ad))
	out := make([]Webhook, 0, n)
	later := map[int][]Webhook{} // decisions due at a later position
	events, sessions := 0, 0
	id := func() string { events++; return fmt.Sprintf("load-%s-e%07d", run, events) }
	for pos := 0; len(out) < n; pos++ {
		if due := later[pos]; len(due) > 0 {
			out = append(out, due...)
			delete(later, pos)
			continue
		}
		sessions++
		w := Webhook{
			Kind:    pick(r.Float64()),
			User:    fmt.Sprintf("load-%s-u%06d", run, r.IntN(max(users, 1))),
			Session: fmt.Sprintf("load-%s-s%07d", run, sessions),
		}
		if r.Float64() < startShare {
			start := w
			start.Kind, start.EventID = scenario.Start, id()
			out = append(out, start)
			w.EventID = id()
			at := pos + 1 + r.IntN(maxStartLead)
			later[at] = append(later[at], w)
			continue
		}
		w.EventID = id()
		out = append(out, w)
	}
	return out[:n]
}

func pick(x float64) scenario.Kind {
	for _, m := range decisionMix {
		if x < m.weight {
			return m.kind
		}
		x -= m.weight
	}
	return decisionMix[0].kind
}

// Request is a delivery ready to send: the body Didit would send and its X-Signature.
type Request struct {
	Webhook
	Body      []byte
	Signature string
}

// Build renders and signs every delivery up front, so that the generator spends its CPU on
// sending during the run, not on JSON. Each webhook's timestamp is its planned time.
func Build(b *scenario.Builder, secret []byte, plan []Webhook, at func(i int) time.Time) ([]Request, error) {
	reqs := make([]Request, len(plan))
	for i, w := range plan {
		body, err := b.Webhook(w.Kind, w.User, w.Session, w.EventID, at(i))
		if err != nil {
			return nil, fmt.Errorf("build webhook %s: %w", w.EventID, err)
		}
		reqs[i] = Request{Webhook: w, Body: body, Signature: webhook.Sign(secret, body)}
	}
	return reqs, nil
}

// DocPath is where the scorer leaves its trace of w: the assessment for a decision, the dedupe
// marker (written in the same transaction) for an "In Progress" webhook, which has no
// assessment. Product code reads the profile; these prove the update of that profile committed.
func (w Webhook) DocPath() string {
	sub := profile.Assessments
	if !w.HasDecision() {
		sub = profile.Processed
	}
	// The scorer names both documents after the event key made safe the way DocID does.
	return profile.Profiles + "/" + profile.DocID(w.User, w.Session) + "/" + sub + "/" + profile.DocID(w.EventID, "")
}
