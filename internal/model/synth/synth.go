// Package synth generates synthetic stored assessments: risk profiles and their assessments as
// Firestore maps, shaped like what the scorer stores (internal/profile), for training the demo
// model and for the export → train → load test. A hidden "bad actor" flag drives both the
// signals and the outcomes (Didit's status, the verdict, step-up results), so a model has
// something to learn; the numbers are invented and say nothing about real fraud.
//
// The mix of user kinds is the load generator's (emulator/loadgen): clean 45 %, step-up 20 %,
// review 15 %, risky 20 %.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// Profile is one synthetic risk_profiles/{ID} document and its assessments.
type Profile struct {
	ID          string
	Doc         map[string]any
	Assessments []map[string]any // risk_profiles/{ID}/assessments/{a["id"]}
}

type kind int

const (
	clean kind = iota
	stepUp
	review
	risky
)

var mix = []struct {
	k kind
	w float64
	p float64 // share of bad actors among users of this kind
}{{clean, 0.45, 0.03}, {stepUp, 0.20, 0.25}, {review, 0.15, 0.35}, {risky, 0.20, 0.80}}

// Generate returns about n assessments spread over profiles of one to three assessments each,
// the same for the same seed.
func Generate(seed uint64, n int) []Profile {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	g := gen{r: r, at: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	var out []Profile
	for total, u := 0, 0; total < n; u++ {
		p := g.profile(fmt.Sprintf("synth-%d-u%05d", seed, u), min(1+r.IntN(3), n-total))
		total += len(p.Assessments)
		out = append(out, p)
	}
	return out
}

type gen struct {
	r  *rand.Rand
	at time.Time
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// score draws a 0–100 score around mean, rounded to one decimal, or -1 (unknown) with pUnknown.
func (g *gen) score(mean, sd, pUnknown float64) float64 {
	if g.chance(pUnknown) {
		return -1
	}
	return math.Round(min(max(mean+sd*g.r.NormFloat64(), 0), 100)*10) / 10
}

func (g *gen) poisson(lambda float64) int64 {
	// Knuth's method: lambda is small here.
	l, k, p := math.Exp(-lambda), int64(0), 1.0
	for {
		p *= g.r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func (g *gen) kind() (kind, bool) {
	x := g.r.Float64()
	for _, m := range mix {
		if x < m.w {
			return m.k, g.chance(m.p)
		}
		x -= m.w
	}
	return clean, false
}

func (g *gen) profile(id string, sessions int) Profile {
	k, bad := g.kind()
	p := Profile{ID: id}
	stepUps := map[string]any{}
	var declined int64
	prevLevel := ""
	for s := range sessions {
		g.at = g.at.Add(time.Duration(1+g.r.IntN(600)) * time.Minute)
		aid := fmt.Sprintf("%s-e%d", id, s)
		sig := g.signals(k, bad)
		status := g.status(bad)
		if status == string(didit.StatusDeclined) {
			declined++
		}
		hist := map[string]any{
			"sessions_24h":       int64(s+1) + boolInt(bad && g.chance(0.4)),
			"sessions_30d":       int64(s+1) + g.poisson(0.3),
			"declined_sessions":  declined + boolInt(bad && g.chance(0.2)),
			"distinct_documents": 1 + boolInt(bad && g.chance(0.2)),
			"distinct_devices":   1 + g.poisson(map[bool]float64{false: 0.1, true: 0.6}[bad]),
			"previous_level":     prevLevel,
		}
		sig["didit_status"] = status
		points, rules := verdictPoints(sig, hist)
		action, level := verdict(points)
		a := map[string]any{
			"id": aid, "event_key": aid, "session_id": aid + "-s", "session_status": status,
			"verdict_session_id": aid + "-s", "score": int64(min(points, 100)), "level": level, "action": action,
			"reasons": rules, "shadow_rules": []any{}, "required_steps": []any{}, "policy_version": "synthetic",
			"signals": sig, "history": hist, "decision_trusted": true, "event_time": g.at, "created_at": g.at,
		}
		if action == string(policy.StepUp) {
			a["required_steps"] = []any{"nfc"}
			su := map[string]any{"kind": "nfc", "assessment_id": aid, "origin_session_id": aid + "-s",
				"status": "created", "created_at": g.at, "updated_at": g.at}
			if g.chance(0.85) {
				su["status"] = "completed"
				su["outcome"] = "approved"
				if bad && g.chance(0.75) || !bad && g.chance(0.05) {
					su["outcome"] = "declined"
				}
			}
			stepUps["nfc"] = su
		}
		p.Assessments = append(p.Assessments, a)
		prevLevel = level
	}
	p.Doc = map[string]any{"schema_version": int64(1), "user_id": id, "step_ups": stepUps,
		"assessments_total": int64(len(p.Assessments)), "created_at": g.at, "updated_at": g.at}
	return p
}

func (g *gen) status(bad bool) string {
	x := g.r.Float64()
	if bad {
		switch {
		case x < 0.65:
			return "Declined"
		case x < 0.8:
			return "In Review"
		}
		return "Approved"
	}
	switch {
	case x < 0.03:
		return "Declined"
	case x < 0.07:
		return "In Review"
	}
	return "Approved"
}

// signals returns a stored signals map: every field FeaturesFrom reads, and a few it does not.
func (g *gen) signals(k kind, bad bool) map[string]any {
	pick := func(good, badP float64) bool {
		if bad {
			return g.chance(badP)
		}
		return g.chance(good)
	}
	liveness := g.score(90, 6, 0.05)
	face := g.score(88, 7, 0.05)
	quality := g.score(82, 8, 0.05)
	gap := math.Round(math.Abs(3*g.r.NormFloat64())*10) / 10
	if bad {
		liveness, face, quality = g.score(62, 22, 0.1), g.score(58, 25, 0.1), g.score(70, 15, 0.1)
		gap = math.Round(math.Abs(9*g.r.NormFloat64())*10) / 10
	}
	if g.chance(0.05) {
		gap = -1
	}
	s := map[string]any{
		"webhook_type":           "status.updated",
		"liveness_score":         liveness,
		"face_match_score":       face,
		"face_quality":           quality,
		"age_gap":                gap,
		"document_expired":       pick(0.02, 0.3) || k == risky && g.chance(0.3),
		"duplicate_user_matches": boolInt(k == stepUp && g.chance(0.8)) + boolInt(bad && g.chance(0.3))*g.poisson(1.5),
		"duplicate_face_matches": boolInt(pick(0.01, 0.2)),
		"nfc_verified":           pick(0.3, 0.05),
		"phone_disposable":       pick(0.02, 0.25),
		"phone_voip":             pick(0.05, 0.3),
		"email_breached":         pick(0.2, 0.3),
		"email_breach_count":     int64(0),
		"email_disposable":       pick(0.03, 0.3),
		"ip_vpn_or_tor":          k == stepUp || pick(0.05, 0.35),
		"ip_data_center":         pick(0.02, 0.2),
		"ip_country_mismatch":    pick(0.08, 0.3),
		"ip_countries":           []any{"DE"},
		"document_hash":          "",
		"device_hashes":          []any{},
		"db_validation_match":    "",
	}
	s["nfc_skipped"] = !s["nfc_verified"].(bool) && g.chance(0.3)
	if s["email_breached"].(bool) {
		s["email_breach_count"] = 1 + g.poisson(2)
	}
	hits := int64(0)
	if k == review {
		hits = 1 + g.poisson(1)
	}
	if bad && g.chance(0.1) {
		hits++
	}
	s["aml_hits"] = hits
	s["aml_max_score"] = g.score(15, 10, 0.2)
	if hits > 0 {
		s["aml_max_score"] = math.Round((60+40*g.r.Float64())*10) / 10
	}
	s["aml_pep"] = hits > 0 && g.chance(0.5)
	s["aml_sanction"] = hits > 0 && bad && g.chance(0.3)
	switch x := g.r.Float64(); {
	case x < 0.5:
	case bad && x < 0.8 || !bad && x < 0.57:
		s["db_validation_match"] = "no_match"
	case x < 0.7:
		s["db_validation_match"] = "partial_match"
	default:
		s["db_validation_match"] = "full_match"
	}
	var errs []any
	if s["document_expired"].(bool) {
		errs = append(errs, "DOCUMENT_EXPIRED")
	}
	if liveness >= 0 && liveness < 50 {
		errs = append(errs, "LOW_LIVENESS_SCORE")
	}
	if face >= 0 && face < 50 {
		errs = append(errs, "LOW_FACE_MATCH_SIMILARITY")
	}
	s["risk_errors"] = errs // nil when none, as Firestore stores an empty slice field
	return s
}

// verdictPoints is a crude stand-in for the default policy, so that blocks, reviews and
// step-ups happen where the real policy would put them.
func verdictPoints(s, h map[string]any) (int, []any) {
	points := 0
	var rules []any
	add := func(cond bool, rule string, p int) {
		if cond {
			points += p
			rules = append(rules, map[string]any{"rule": rule, "points": int64(p), "description": rule})
		}
	}
	add(s["didit_status"] == string(didit.StatusDeclined), "didit_declined", 30)
	add(s["document_expired"].(bool), "id_document_expired", 40)
	add(s["liveness_score"].(float64) >= 0 && s["liveness_score"].(float64) < 50, "liveness_low_score", 35)
	add(s["face_match_score"].(float64) >= 0 && s["face_match_score"].(float64) < 50, "face_match_low", 30)
	add(s["duplicate_user_matches"].(int64) > 0, "id_possible_duplicated_user", 25)
	add(s["aml_pep"].(bool), "aml_pep_hit", 20)
	add(s["aml_sanction"].(bool), "aml_sanction_hit", 60)
	add(s["aml_hits"].(int64) > 0, "aml_moderate_hit", 10)
	add(s["ip_vpn_or_tor"].(bool), "ip_vpn_or_tor", 10)
	add(s["phone_disposable"].(bool), "phone_disposable", 15)
	add(s["email_disposable"].(bool), "email_disposable", 10)
	add(h["declined_sessions"].(int64) > 1, "history_declined", 20)
	return points, rules
}

func verdict(points int) (action, level string) {
	switch {
	case points >= 80:
		return "block", "critical"
	case points >= 50:
		return "review", "high"
	case points >= 25:
		return "step_up", "medium"
	}
	return "approve", "low"
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
