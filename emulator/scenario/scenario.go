// Package scenario builds realistic Didit webhooks for the demo, the load generator and the
// end-to-end tests: fixtures from testdata/webhooks re-issued for a given user, session and
// time, so that every run sends fresh, distinct, correctly shaped events.
package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/riskwire/didit-risk/emulator/diditsim"
)

// Kind is a kind of user the pipeline should tell apart.
type Kind string

const (
	Clean  Kind = "clean"   // every check passes → approve
	StepUp Kind = "step_up" // possible duplicate + VPN → step_up (nfc, phone)
	Review Kind = "review"  // PEP / AML hit and more → review (no reviewer has decided yet)
	Risky  Kind = "risky"   // declined, expired document, face mismatch → block
	Start  Kind = "start"   // "In Progress": no decision
)

// Kinds lists every kind, in a sensible mix order.
var Kinds = []Kind{Clean, StepUp, Review, Risky, Start}

var fixtureOf = map[Kind]string{
	Clean: "approved_clean_v3.json", StepUp: "approved_clean_v3.json", Review: "full_v3.json",
	Risky: "declined_v3.json", Start: "in_progress.json",
}

// Builder re-issues fixtures.
type Builder struct {
	fixtures map[Kind]map[string]any
}

// NewBuilder reads the fixtures from dir (testdata/webhooks).
func NewBuilder(dir string) (*Builder, error) {
	b := &Builder{fixtures: map[Kind]map[string]any{}}
	for k, name := range fixtureOf {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("scenario fixture: %w", err)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // keep 95 an integer and 95.0 a float, as Didit wrote them
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("scenario fixture %s: %w", name, err)
		}
		b.fixtures[k] = m
	}
	return b, nil
}

// Webhook returns the body of a webhook of kind k for user, session and time, with a fresh
// event id. The body is compact JSON with sorted keys, as Didit sends it.
func (b *Builder) Webhook(k Kind, user, session, eventID string, at time.Time) ([]byte, error) {
	m := deepCopy(b.fixtures[k]).(map[string]any)
	m["vendor_data"], m["session_id"], m["event_id"] = user, session, eventID
	m["timestamp"], m["created_at"] = at.Unix(), at.Add(-2*time.Minute).Unix()
	if d, ok := m["decision"].(map[string]any); ok {
		d["vendor_data"], d["session_id"] = user, session
		if k == Review {
			// The fixture's session was already approved by a reviewer in Didit's console; a
			// user for manual review is one no person has looked at yet.
			d["reviews"] = []any{}
		}
		if k == StepUp {
			addWarning(d, "id_verifications", "ID_VERIFICATION", "POSSIBLE_DUPLICATED_USER", "warning")
			addWarning(d, "ip_analyses", "LOCATION", "PRIVATE_NETWORK_DETECTED", "information")
			if ips, ok := d["ip_analyses"].([]any); ok && len(ips) > 0 {
				ips[0].(map[string]any)["is_vpn_or_tor"] = true
			}
		}
	}
	return diditsim.Marshal(m) // keys sorted, compact, ASCII-escaped: Didit's raw body
}

func addWarning(decision map[string]any, feature, name, risk, logType string) {
	items, ok := decision[feature].([]any)
	if !ok || len(items) == 0 {
		return
	}
	item := items[0].(map[string]any)
	ws, _ := item["warnings"].([]any)
	item["warnings"] = append(ws, map[string]any{
		"feature": name, "risk": risk, "log_type": logType, "additional_data": nil,
		"short_description": risk, "long_description": risk, "node_id": item["node_id"],
	})
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	default:
		return v
	}
}
