package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	return s.post(ctx, s.SimURL+"/_sim/webhook", body)
}

// Complete has the simulator finish one of the sessions it created (a step-up) with status,
// and send that session's webhook back.
func (s *Stack) Complete(ctx context.Context, diditSessionID, status string) error {
	return s.post(ctx, s.SimURL+"/_sim/sessions/"+diditSessionID+"/complete", []byte(`{"status":"`+status+`"}`))
}

func (s *Stack) post(ctx context.Context, url string, body []byte) error {
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
	if resp.StatusCode != http.StatusOK || r.ReceiverStatus != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
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

// Demo sends one user of each kind and walks one through a step-up, then prints the profiles.
func (s *Stack) Demo(ctx context.Context, run string, out io.Writer) ([]profile.Profile, error) {
	users := []struct {
		id   string
		kind Kind
	}{
		{"demo-clean-" + run, Clean}, {"demo-review-" + run, Review}, {"demo-risky-" + run, Risky},
	}
	fmt.Fprintf(out, "Sending signed webhooks through the Didit simulator (%s)...\n", s.SimURL)
	for i, u := range users {
		sess := fmt.Sprintf("demo-%s-%d", run, i)
		body, err := s.Builder.Webhook(u.kind, u.id, sess, sess+"-event", time.Now())
		if err != nil {
			return nil, err
		}
		if err := s.Send(ctx, body); err != nil {
			return nil, fmt.Errorf("send %s: %w (is `make run` running?)", u.id, err)
		}
		fmt.Fprintf(out, "  %-22s %-8s accepted by the receiver\n", u.id, u.kind)
	}
	stepper := "demo-stepup-" + run
	fmt.Fprintf(out, "  %-22s %-8s accepted; waiting for its step-up sessions...\n", stepper, StepUp)
	if _, err := s.StepUpFlow(ctx, stepper, "demo-"+run+"-3", "Approved", out); err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "  the user completed the NFC passport read; the simulator sent its webhook back")

	var profiles []profile.Profile
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSCORE\tLEVEL\tACTION\tSTEP-UPS\tWHY")
	for _, id := range []string{users[0].id, users[1].id, users[2].id, stepper} {
		p, err := s.WaitProfile(ctx, id, func(p profile.Profile) bool {
			return p.Level != "" && (id != stepper || p.Action == policy.Approve)
		})
		if err != nil {
			return nil, err
		}
		profiles = append(profiles, p)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", id, p.Score, p.Level, p.Action, StepUps(p), Why(p))
	}
	return profiles, tw.Flush()
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

// Why renders the rules behind a profile's score.
func Why(p profile.Profile) string {
	var rules []string
	for _, r := range p.Reasons {
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
