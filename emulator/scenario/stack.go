package scenario

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
)

// Stack drives a running pipeline (make run) from outside, as Didit and product code would:
// webhooks go in through the Didit simulator, profiles are read from Firestore.
type Stack struct {
	SimURL  string // the Didit simulator, e.g. http://127.0.0.1:8090
	FS      *firestore.Client
	Builder *Builder
	Wait    time.Duration // how long to wait for a profile state; 0 means 60 s
}

// Send has the simulator sign body exactly as Didit does and deliver it to the receiver.
func (s *Stack) Send(ctx context.Context, body []byte) error {
	return s.post(ctx, s.SimURL+"/_sim/webhook", body, true)
}

// SendWithFace is Send for a session whose face (what Face Search matches on) is the
// simulator's face of seed; the simulator sets it before the webhook leaves.
func (s *Stack) SendWithFace(ctx context.Context, body []byte, seed string) error {
	return s.post(ctx, s.SimURL+"/_sim/webhook?face="+url.QueryEscape(seed), body, true)
}

// Complete has the simulator finish one of the sessions it created (a step-up) with status,
// and send that session's webhook back.
func (s *Stack) Complete(ctx context.Context, diditSessionID, status string) error {
	return s.post(ctx, s.SimURL+"/_sim/sessions/"+diditSessionID+"/complete", []byte(`{"status":"`+status+`"}`), true)
}

// ConsoleReview plays a reviewer in Didit's console: the session moves to status (Approved or
// Declined) and the simulator sends Didit's webhook, whose decision lists the review.
func (s *Stack) ConsoleReview(ctx context.Context, diditSessionID, status string) error {
	body, err := json.Marshal(map[string]string{"new_status": status, "comment": "make demo: documents checked"})
	if err != nil {
		return err
	}
	return s.post(ctx, s.SimURL+"/_sim/sessions/"+diditSessionID+"/review", body, true)
}

// SeedFaces adds to the simulator's face index, under the face of seed, one Approved session
// per ringUsers (other users verified with that face) and, when blocklisted, a face blocklist
// entry.
func (s *Stack) SeedFaces(ctx context.Context, seed string, ringUsers []string, blocklisted bool) error {
	body, err := json.Marshal(map[string]any{"seed": seed, "fraud_ring": ringUsers, "blocklisted": blocklisted})
	if err != nil {
		return err
	}
	return s.post(ctx, s.SimURL+"/_sim/faces", body, false)
}

// post sends body to one of the simulator's control endpoints; receiver says the call sends a
// webhook, which the receiver must have accepted.
func (s *Stack) post(ctx context.Context, url string, body []byte, receiver bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	var r struct {
		ReceiverStatus int `json:"receiver_status"`
	}
	_ = json.Unmarshal(msg, &r)
	if resp.StatusCode != http.StatusOK || (receiver && r.ReceiverStatus != http.StatusOK) {
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Assessments returns the verdicts stored for a user, oldest first: how the profile got where
// it is.
func (s *Stack) Assessments(ctx context.Context, id string) ([]profile.Assessment, error) {
	docs, err := s.FS.Collection(profile.Profiles).Doc(id).Collection(profile.Assessments).OrderBy("created_at", firestore.Asc).Documents(ctx).GetAll()
	if err != nil {
		return nil, err
	}
	out := make([]profile.Assessment, 0, len(docs))
	for _, d := range docs {
		var a profile.Assessment
		if err := d.DataTo(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// WaitProfile polls risk_profiles/{id} until ok holds.
func (s *Stack) WaitProfile(ctx context.Context, id string, ok func(profile.Profile) bool) (profile.Profile, error) {
	wait := s.Wait
	if wait == 0 {
		wait = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var p profile.Profile
	for {
		snap, err := s.FS.Collection(profile.Profiles).Doc(id).Get(ctx)
		switch {
		case err == nil:
			p = profile.Profile{}
			if err := snap.DataTo(&p); err != nil {
				return p, err
			}
			if ok(p) {
				return p, nil
			}
		case status.Code(err) == codes.NotFound, ctx.Err() != nil:
		default:
			return p, err
		}
		select {
		case <-ctx.Done():
			return p, fmt.Errorf("profile %s did not reach the expected state in %s (last: level=%q action=%q step_ups=%s)",
				id, wait, p.Level, p.Action, StepUps(p))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StepUpFlow sends a medium-risk webhook for user, waits for the step-up sessions, completes
// the NFC one with nfcStatus (Approved or Declined) and returns the profile once it shows the
// step completed.
func (s *Stack) StepUpFlow(ctx context.Context, user, session string, nfcStatus string, out io.Writer) (profile.Profile, error) {
	body, err := s.Builder.Webhook(StepUp, user, session, session+"-event", time.Now())
	if err != nil {
		return profile.Profile{}, err
	}
	if err := s.Send(ctx, body); err != nil {
		return profile.Profile{}, err
	}
	p, err := s.WaitProfile(ctx, user, func(p profile.Profile) bool {
		return p.StepUps[string(policy.StepNFC)].Status == policy.StepCreated && p.StepUps[string(policy.StepPhone)].Status == policy.StepCreated
	})
	if err != nil {
		return p, err
	}
	for _, k := range []policy.StepKind{policy.StepNFC, policy.StepPhone} {
		fmt.Fprintf(out, "  %-6s step-up: Didit session %s, send the user to %s\n", k, p.StepUps[string(k)].DiditSessionID, p.StepUps[string(k)].URL)
	}
	if err := s.Complete(ctx, p.StepUps[string(policy.StepNFC)].DiditSessionID, nfcStatus); err != nil {
		return p, err
	}
	return s.WaitProfile(ctx, user, func(p profile.Profile) bool { return p.StepUps[string(policy.StepNFC)].Status == policy.StepCompleted })
}

// DemoUser is one row of the demo's table.
type DemoUser struct {
	ID      string
	Kind    Kind
	Session string
	Profile profile.Profile
}

// DemoResult is what Demo produced: the users in table order (clean, review, risky, step-up,
// fraud ring, blocklisted face), and the review user's profile just before the reviewer decided.
type DemoResult struct {
	Users        []DemoUser
	BeforeReview profile.Profile
}

// User returns the row of the user whose id starts with prefix ("demo-ring-").
func (r DemoResult) User(prefix string) DemoUser {
	for _, u := range r.Users {
		if strings.HasPrefix(u.ID, prefix) {
			return u
		}
	}
	return DemoUser{}
}

// ErrDemoIncomplete means an asynchronous result the demo waits for (a Face Search, a review
// request, a reviewer's webhook) did not come in time; the table shows what there was.
var ErrDemoIncomplete = errors.New("demo incomplete")

// Demo sends one user of each kind and walks one through a step-up; stages a fraud ring (three
// other users verified with one face) and a blocklisted face for two more users, whose Face
// Searches the step-up function runs; plays the reviewer who approves the review user in
// Didit's console; then prints the profiles. Every wait is bounded by s.Wait: a result that does
// not come is said in the output, the table is printed all the same, and the error wraps
// ErrDemoIncomplete.
func (s *Stack) Demo(ctx context.Context, run string, out io.Writer) (DemoResult, error) {
	var res DemoResult
	users := []DemoUser{
		{ID: "demo-clean-" + run, Kind: Clean}, {ID: "demo-review-" + run, Kind: Review}, {ID: "demo-risky-" + run, Kind: Risky},
		{ID: "demo-stepup-" + run, Kind: StepUp},
		{ID: "demo-ring-" + run, Kind: Review}, {ID: "demo-blocklisted-" + run, Kind: Review},
	}
	for i := range users {
		users[i].Session = fmt.Sprintf("demo-%s-%d", run, i)
	}
	clean, review, risky, stepper, ring, blocked := &users[0], &users[1], &users[2], &users[3], &users[4], &users[5]
	ringSeed, blockedSeed := "ring-"+run, "blocklisted-"+run
	ringMembers := []string{"demo-ring-member-1-" + run, "demo-ring-member-2-" + run, "demo-ring-member-3-" + run}
	faces := map[*DemoUser]string{ring: ringSeed, blocked: blockedSeed}

	// Didit already knows a face: three other users verified with the ring's, and one face on
	// the application's face blocklist.
	if err := s.SeedFaces(ctx, ringSeed, ringMembers, false); err != nil {
		return res, fmt.Errorf("seed the fraud ring: %w (is `make run` running?)", err)
	}
	if err := s.SeedFaces(ctx, blockedSeed, nil, true); err != nil {
		return res, fmt.Errorf("seed the blocklisted face: %w", err)
	}

	fmt.Fprintf(out, "Sending signed webhooks through the Didit simulator (%s)...\n", s.SimURL)
	// The sessions were decided a few seconds ago: what the simulator sends about them later
	// (the In Review of a review request, a reviewer's decision) is then later in time.
	at := time.Now().Add(-3 * time.Second)
	for _, u := range []*DemoUser{clean, review, risky, ring, blocked} {
		body, err := s.Builder.Webhook(u.Kind, u.ID, u.Session, u.Session+"-event", at)
		if err != nil {
			return res, err
		}
		send, note := s.Send(ctx, body), ""
		if seed := faces[u]; seed != "" {
			send, note = s.SendWithFace(ctx, body, seed), "; its face is the one seeded as "+seed
		}
		if send != nil {
			return res, fmt.Errorf("send %s: %w (is `make run` running?)", u.ID, send)
		}
		fmt.Fprintf(out, "  %-28s %-8s accepted by the receiver%s\n", u.ID, u.Kind, note)
	}
	fmt.Fprintf(out, "  %-28s %-8s accepted; waiting for its step-up sessions...\n", stepper.ID, StepUp)
	if _, err := s.StepUpFlow(ctx, stepper.ID, stepper.Session, "Approved", out); err != nil {
		return res, err
	}
	fmt.Fprintln(out, "  the user completed the NFC passport read; the simulator sent its webhook back")

	var missing []string
	// Face Search: the step-up function reads each high-risk session's face from Didit, searches
	// it, and the scorer re-scores the user with what it found.
	fmt.Fprintf(out, "\nFace Search (1:N) of the high-risk sessions, run by the step-up function against the simulator:\n")
	fctx, cancel := context.WithTimeout(ctx, s.wait()) // both searches run at once: one bound for both
	defer cancel()
	for _, f := range []struct {
		u    *DemoUser
		rule string
		what string
	}{
		{ring, "face_search_fraud_ring", fmt.Sprintf("the same face verified for %d other users", len(ringMembers))},
		{blocked, "face_search_in_blocklist", "the face on the application's face blocklist"},
	} {
		p, err := s.WaitProfile(fctx, f.u.ID, func(p profile.Profile) bool { return hasRule(p, f.rule) })
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s: no Face Search verdict (%s): %v — `make run` turns FACE_SEARCH on against the simulator; was it started with FACE_SEARCH=false or another DIDIT_API_URL?", f.u.ID, f.rule, err))
			fmt.Fprintf(out, "  %-28s no Face Search result in %s\n", f.u.ID, s.wait())
			continue
		}
		fmt.Fprintf(out, "  %-28s found %s: %s → %s (%s)\n", f.u.ID, f.what, s.firstVerdict(ctx, f.u.ID), verdict(p.Action, p.Score), ruleOf(p, f.rule))
	}

	// Manual review: the step-up function has asked Didit's console to review the review user;
	// a reviewer approves, and Didit's webhook brings the decision back.
	fmt.Fprintf(out, "\nManual review of %s in Didit's console:\n", review.ID)
	before, err := s.WaitProfile(ctx, review.ID, func(p profile.Profile) bool {
		return p.DiditRequests[string(profile.RequestReview)].Status == policy.StepCompleted && p.Sessions[review.Session].Status == didit.StatusInReview
	})
	switch {
	case err != nil:
		missing = append(missing, fmt.Sprintf("%s: the step-up function did not put the session In Review: %v (DIDIT_REVIEW_REQUESTS=false?)", review.ID, err))
		fmt.Fprintf(out, "  no review request in %s; the reviewer is not played\n", s.wait())
	default:
		res.BeforeReview = before
		fmt.Fprintf(out, "  the step-up function asked for a review: session In Review, %s, decided by %s\n", verdict(before.Action, before.Score), decidedBy(before))
		if err := s.ConsoleReview(ctx, review.Session, "Approved"); err != nil {
			return res, fmt.Errorf("review %s: %w", review.ID, err)
		}
		after, err := s.WaitProfile(ctx, review.ID, func(p profile.Profile) bool { return p.Sessions[review.Session].Status == didit.StatusApproved })
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s: the reviewer's Approved did not reach the profile: %v", review.ID, err))
			break
		}
		kept := ""
		if pv := after.PolicyVerdict; pv != nil && pv.Action != after.Action {
			kept = fmt.Sprintf(" (the policy's own %s kept in policy_verdict)", pv.Action)
		}
		fmt.Fprintf(out, "  a reviewer approved it; Didit's webhook came back: %s → %s, decided by %s%s\n",
			verdict(before.Action, before.Score), verdict(after.Action, after.Score), decidedBy(after), kept)
	}

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSCORE\tLEVEL\tACTION\tDECIDED-BY\tSTEP-UPS\tFACE-SEARCH\tWHY")
	for i := range users {
		u := &users[i]
		p, err := s.WaitProfile(ctx, u.ID, func(p profile.Profile) bool {
			return p.Level != "" && (u.ID != stepper.ID || p.Action == policy.Approve)
		})
		if err != nil {
			return res, err
		}
		u.Profile = p
		res.Users = append(res.Users, *u)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, p.Score, p.Level, p.Action, decidedBy(p), StepUps(p), FaceSearch(p), Why(p))
	}
	if err := tw.Flush(); err != nil {
		return res, err
	}
	if len(missing) > 0 {
		return res, fmt.Errorf("%w:\n  %s", ErrDemoIncomplete, strings.Join(missing, "\n  "))
	}
	return res, nil
}

func (s *Stack) wait() time.Duration {
	if s.Wait == 0 {
		return 60 * time.Second
	}
	return s.Wait
}

// firstVerdict is the user's first stored verdict, "?" when it cannot be read.
func (s *Stack) firstVerdict(ctx context.Context, id string) string {
	as, err := s.Assessments(ctx, id)
	if err != nil || len(as) == 0 {
		return "?"
	}
	return verdict(as[0].Action, as[0].Score)
}

func verdict(action policy.Action, score int) string { return fmt.Sprintf("%s (%d)", action, score) }

func decidedBy(p profile.Profile) string {
	if p.DecidedBy == "" {
		return "-"
	}
	return string(p.DecidedBy)
}

func hasRule(p profile.Profile, rule string) bool {
	return slices.ContainsFunc(p.Reasons, func(r profile.Reason) bool { return r.Rule == rule })
}

func ruleOf(p profile.Profile, rule string) string {
	for _, r := range p.Reasons {
		if r.Rule == rule {
			return fmt.Sprintf("%s(%+d)", r.Rule, r.Points)
		}
	}
	return rule
}

// FaceSearch renders what the Face Searches of a profile's sessions found: "3 other users",
// "blocklisted", "no match", or "-" when none ran.
func FaceSearch(p profile.Profile) string {
	var parts []string
	ids := slices.Sorted(maps.Keys(p.Sessions))
	for _, id := range ids {
		for _, f := range p.Sessions[id].FaceSearch {
			switch {
			case f.Blocklisted || slices.Contains(f.Codes, didit.RiskFaceInBlocklist):
				parts = append(parts, "blocklisted")
			case f.OtherUsers > 0:
				parts = append(parts, fmt.Sprintf("%d other users", f.OtherUsers))
			case f.Matches > 0:
				parts = append(parts, fmt.Sprintf("%d matches", f.Matches))
			default:
				parts = append(parts, "no match")
			}
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// StepUps renders a profile's step-ups for a table.
func StepUps(p profile.Profile) string {
	var parts []string
	for k, s := range p.StepUps {
		part := string(k) + ":" + string(s.Status)
		if s.Outcome != "" {
			part += "(" + string(s.Outcome) + ")"
		}
		parts = append(parts, part)
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// Why renders the rules behind a profile's score, the weightiest first.
func Why(p profile.Profile) string {
	reasons := slices.Clone(p.Reasons)
	slices.SortStableFunc(reasons, func(a, b profile.Reason) int { return cmp.Compare(abs(b.Points), abs(a.Points)) })
	var rules []string
	for _, r := range reasons {
		rules = append(rules, fmt.Sprintf("%s(%+d)", r.Rule, r.Points))
	}
	if len(rules) > 4 {
		rules = append(rules[:4], fmt.Sprintf("+%d more", len(rules)-4))
	}
	if len(rules) == 0 {
		return "no rule fired"
	}
	return strings.Join(rules, " ")
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
