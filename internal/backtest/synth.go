package backtest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// Synthetic is a Source of generated users, each folded through profile.Fold exactly as the
// scorer folds webhooks (step-up sessions bound to the step-ups they answer included), so every
// assessment it yields is one the scorer would store under Eval. The same Seed gives the same
// assessments. Signals are invented (no person behind them) and drawn so that most rules of the
// default policy fire somewhere.
type Synthetic struct {
	Seed  uint64
	Users int
	Eval  profile.Evaluator // the live policy (and model) the stored verdicts come from
	Start time.Time         // first event time; zero: 2026-11-01 UTC
}

// Each implements Source: users in order, each user's assessments together. The window is left
// to Run.
func (s Synthetic) Each(ctx context.Context, _ Window, _ bool, fn func(string, *profile.Assessment) error) error {
	r := rand.New(rand.NewPCG(s.Seed, 0xb4c7e57))
	at := s.Start
	if at.IsZero() {
		at = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	for u := range s.Users {
		if err := ctx.Err(); err != nil {
			return err
		}
		g := userGen{r: r, id: fmt.Sprintf("synth-%d-%06d", s.Seed, u), risky: r.Float64() < 0.3}
		var p profile.Profile
		sessions := 1 + r.IntN(3)
		for n := range sessions {
			at = at.Add(time.Duration(1+r.IntN(90)) * time.Minute)
			ev := g.event(fmt.Sprintf("%s-s%d", g.id, n), at)
			a := profile.Fold(&p, ev, s.Eval, at)
			if a == nil {
				continue
			}
			if err := fn(g.id, a); err != nil {
				return err
			}
			// Half the users asked for a step-up go through it: the step-up function records
			// the Didit session, whose webhook comes back bound to it.
			if a.Action != policy.StepUp || len(a.RequiredSteps) == 0 || r.Float64() < 0.5 {
				continue
			}
			kind := a.RequiredSteps[0]
			suID := ev.SessionID + "-" + string(kind)
			p.StepUps[string(kind)] = profile.StepUp{Kind: kind, Status: policy.StepCreated, AssessmentID: a.ID,
				OriginSessionID: ev.SessionID, DiditSessionID: suID, CreatedAt: at, UpdatedAt: at}
			at = at.Add(time.Duration(1+r.IntN(30)) * time.Minute)
			status := didit.StatusApproved
			if x := r.Float64(); x < 0.15 {
				status = didit.StatusDeclined
			} else if x < 0.25 {
				status = didit.StatusInReview
			}
			sev := profile.Event{Key: suID + "-e", ProfileID: g.id, UserID: g.id, SessionID: suID, Status: status,
				EventTime: at, HasDecision: true, Signals: g.stepUpSignals(kind, status), Trusted: true,
				StepUp: &profile.StepUpLink{ProfileID: g.id, AssessmentID: a.ID, OriginSessionID: ev.SessionID, Kind: kind}}
			if sa := profile.Fold(&p, sev, s.Eval, at); sa != nil {
				if err := fn(g.id, sa); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

type userGen struct {
	r     *rand.Rand
	id    string
	risky bool
	docs  int
}

func (g *userGen) chance(p float64) bool { return g.r.Float64() < p }

// pick draws with probability p for an ordinary user, pr for a risky one.
func (g *userGen) pick(p, pr float64) bool {
	if g.risky {
		return g.chance(pr)
	}
	return g.chance(p)
}

// score draws around mean (0–100, one decimal) or -1 (unknown) once in twenty.
func (g *userGen) score(mean, sd float64) float64 {
	if g.chance(0.05) {
		return -1
	}
	return math.Round(min(max(mean+sd*g.r.NormFloat64(), 0), 100)*10) / 10
}

var synthCodes = []struct {
	code    string
	feature string
	p, pr   float64
}{
	{"POSSIBLE_DUPLICATED_USER", policy.FeatureID, 0.03, 0.2},
	{"DUPLICATED_FACE", policy.FeatureLiveness, 0.005, 0.08},
	{"HIGH_RISK_PHONE_NUMBER", policy.FeaturePhone, 0.01, 0.1},
	{"IP_LOCATION_NOT_ALLOWED", policy.FeatureIP, 0.005, 0.05},
	{"NFC_CHIP_NOT_VERIFIED", policy.FeatureNFC, 0.01, 0.08},
	{"LIVENESS_FACE_ATTACK", policy.FeatureLiveness, 0.001, 0.03},
	{"COULD_NOT_PERFORM_AML_SCREENING", policy.FeatureAML, 0.01, 0.02},
}

func (g *userGen) event(session string, at time.Time) profile.Event {
	status := didit.StatusApproved
	switch x := g.r.Float64(); {
	case g.risky && x < 0.35, !g.risky && x < 0.03:
		status = didit.StatusDeclined
	case g.risky && x < 0.5, !g.risky && x < 0.08:
		status = didit.StatusInReview
	}
	sig := scoring.Signals{DiditStatus: string(status), WebhookType: "status.updated",
		FeaturesPresent: []string{policy.FeatureID, policy.FeatureLiveness, policy.FeatureFaceMatch, policy.FeatureAML, policy.FeatureIP}}
	for _, c := range synthCodes {
		if g.pick(c.p, c.pr) {
			sig.RiskCodes = append(sig.RiskCodes, c.code)
			sig.RiskWarnings = append(sig.RiskWarnings, c.code)
			sig.Warnings = append(sig.Warnings, scoring.WarningSignal{Feature: c.feature, Risk: c.code, LogType: "warning"})
		}
	}
	mean := 90.0
	if g.risky {
		mean = 70
	}
	sig.LivenessScore = g.score(mean, 12)
	sig.FaceMatchScore = g.score(mean, 14)
	sig.FaceQuality = g.score(mean-5, 10)
	sig.Age = int64(18 + g.r.IntN(50))
	if g.pick(0.01, 0.05) {
		sig.Age = int64(15 + g.r.IntN(3))
	}
	sig.AgeEstimate = float64(sig.Age) + math.Round(6*g.r.NormFloat64())
	if g.risky && g.chance(0.2) {
		sig.AgeEstimate += 15
	}
	sig.AgeGap = math.Abs(sig.AgeEstimate - float64(sig.Age))
	sig.DocumentExpired = g.pick(0.01, 0.1)
	sig.DuplicateUserMatches = int64(boolInt(g.pick(0.02, 0.15)))
	sig.AMLMaxScore, sig.AMLHits = -1, 0
	if g.pick(0.05, 0.2) {
		sig.AMLHits = int64(1 + g.r.IntN(3))
		sig.AMLMaxScore = math.Round(100 * g.r.Float64())
		sig.AMLPEP = g.chance(0.3)
		sig.AMLSanction = g.chance(0.05)
	}
	sig.IPVPNOrTor = g.pick(0.05, 0.3)
	sig.IPDataCenter = g.pick(0.02, 0.15)
	sig.IPCountryMismatch = g.pick(0.05, 0.25)
	sig.PhoneVoIP = g.pick(0.03, 0.2)
	sig.EmailBreached = g.pick(0.15, 0.3)
	sig.EmailDisposable = g.pick(0.02, 0.2)
	if g.docs == 0 || g.pick(0.05, 0.3) {
		g.docs++
	}
	// Opaque stand-ins for keyed hashes: no document behind them.
	sig.DocumentHash = fmt.Sprintf("synthetic:%s-doc%d", g.id, g.docs)
	sig.DeviceHashes = []string{fmt.Sprintf("synthetic:%s-dev%d", g.id, g.r.IntN(2))}
	return profile.Event{Key: session + "-e", ProfileID: g.id, UserID: g.id, SessionID: session, Status: status,
		EventTime: at, HasDecision: true, Signals: sig, DocumentHash: sig.DocumentHash, DeviceHashes: sig.DeviceHashes, Trusted: true}
}

// stepUpSignals are a step-up session's own signals: the check it asked for.
func (g *userGen) stepUpSignals(kind policy.StepKind, status didit.Status) scoring.Signals {
	sig := scoring.Signals{DiditStatus: string(status), WebhookType: "status.updated", Age: -1, LivenessScore: -1,
		AgeEstimate: -1, FaceQuality: -1, AgeGap: -1, FaceMatchScore: -1, AMLMaxScore: -1}
	switch kind {
	case policy.StepNFC:
		sig.FeaturesPresent = []string{policy.FeatureNFC}
		sig.NFCVerified = status == didit.StatusApproved
	case policy.StepBiometric:
		sig.FeaturesPresent = []string{policy.FeatureLiveness}
		sig.LivenessScore = g.score(85, 10)
	default:
		sig.FeaturesPresent = []string{policy.FeaturePhone}
	}
	return sig
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Repeat is a Source that yields its records over and over, N in all, each time as a fresh copy
// with ids made unique per round (profile "…~r<round>"): a small pool of real folded
// assessments stands for millions without holding them, so a run over it measures the replay
// and the tally, in flat memory.
type Repeat struct {
	Pool Records
	N    int
}

// Each implements Source.
func (s Repeat) Each(ctx context.Context, _ Window, _ bool, fn func(string, *profile.Assessment) error) error {
	if len(s.Pool) == 0 {
		return nil
	}
	for i := range s.N {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		round, rec := i/len(s.Pool), s.Pool[i%len(s.Pool)]
		a := *rec.Assessment
		suffix := "~r" + strconv.Itoa(round)
		a.ID += suffix
		if err := fn(rec.ProfileID+suffix, &a); err != nil {
			return err
		}
	}
	return nil
}
