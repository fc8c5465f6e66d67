package message_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
)

func TestWebhookAttrsRoundTrip(t *testing.T) {
	in := message.WebhookAttrs{
		EventKey: "e1", SessionID: "s1", VendorData: "u1", WebhookType: "status.updated", Status: "Approved",
		Timestamp: "1767225607", Signature: "v2", Class: message.ClassSession, DecisionAuthenticated: true,
	}
	m := in.Attributes()
	assert.Equal(t, "webhook", m[message.AttrMessageType])
	assert.Equal(t, message.TypeWebhook, message.TypeOf(m))
	assert.Equal(t, in, message.ParseWebhookAttrs(m))
	assert.True(t, message.ParseWebhookAttrs(m).Scorable())

	in.DecisionAuthenticated = false
	assert.Equal(t, "false", in.Attributes()[message.AttrDecisionAuthenticated])
}

func TestWebhookAttrsLeaveOutEmptyAndOversized(t *testing.T) {
	m := message.WebhookAttrs{SessionID: "s", VendorData: strings.Repeat("x", 1025)}.Attributes()
	assert.NotContains(t, m, message.AttrVendorData, "over Pub/Sub's 1024-byte limit")
	assert.NotContains(t, m, message.AttrEventID)
	assert.Equal(t, "s", m[message.AttrSessionID])
}

// A message without the flag, or with anything but exactly "true", is untrusted; a missing or
// unknown class is not scorable.
func TestParseWebhookAttrsFailsClosed(t *testing.T) {
	for _, v := range []string{"", "TRUE", "True", "1", "yes", " true", "false"} {
		m := map[string]string{message.AttrEventClass: "session"}
		if v != "" {
			m[message.AttrDecisionAuthenticated] = v
		}
		a := message.ParseWebhookAttrs(m)
		assert.False(t, a.DecisionAuthenticated, "%q", v)
		assert.False(t, a.Scorable(), "%q", v)
	}
	for _, c := range []string{"", "Session", "kyc", "test", "business", "other"} {
		a := message.ParseWebhookAttrs(map[string]string{message.AttrEventClass: c, message.AttrDecisionAuthenticated: "true"})
		assert.False(t, a.Scorable(), "class %q", c)
	}
	assert.Equal(t, message.TypeUnknown, message.TypeOf(map[string]string{}))
	assert.Equal(t, message.TypeUnknown, message.TypeOf(map[string]string{message.AttrMessageType: "Webhook"}))
}

func TestDecisionRoundTrip(t *testing.T) {
	d := message.Decision{
		ProfileID: "p", UserID: "u", AssessmentID: "a", SessionID: "s", Score: 40, Level: "medium",
		Action: policy.StepUp, RequiredSteps: []policy.StepKind{policy.StepNFC}, PolicyVersion: "v1",
		Reasons: []message.Reason{{Rule: "r", Points: 40, Description: "why"}}, DecidedAt: time.Unix(1767225607, 0).UTC(),
		DecisionTrusted: true, SessionStatus: didit.StatusInReview, DecidedBy: "reviewer",
	}
	data, err := d.Encode()
	require.NoError(t, err)
	assert.Contains(t, string(data), `"`+message.AttrDecisionAuthenticated+`":true`, "one name for the flag, attribute and field")
	assert.Contains(t, string(data), `"session_status":"In Review"`)
	assert.Contains(t, string(data), `"`+message.AttrDecidedBy+`":"reviewer"`, "one name for the field and attribute")
	got, err := message.DecodeDecision(data)
	require.NoError(t, err)
	assert.Equal(t, d, got)

	a := d.Attributes()
	assert.Equal(t, message.TypeDecision, message.TypeOf(a))
	assert.Equal(t, "step_up", a[message.AttrAction])
	assert.Equal(t, "true", a[message.AttrDecisionAuthenticated])
	assert.Equal(t, "u", a[message.AttrUser])
	assert.Equal(t, "reviewer", a[message.AttrDecidedBy])

	d.DecidedBy = ""
	assert.NotContains(t, d.Attributes(), message.AttrDecidedBy, "no attribute when nobody is named")
}

func TestDecodeDecisionFailsClosed(t *testing.T) {
	got, err := message.DecodeDecision([]byte(`{"profile_id":"p","assessment_id":"a","action":"block","decision_trusted":true}`))
	require.NoError(t, err)
	assert.False(t, got.DecisionTrusted, "without decision_authenticated a decision is untrusted")

	for _, body := range []string{`{`, `{"profile_id":"p"}`, `[]`} {
		_, err := message.DecodeDecision([]byte(body))
		assert.Equal(t, failure.Invalid, failure.KindOf(err), body)
	}
}

// Every subscription filter in Terraform names attributes and values through this package's
// constants: a renamed attribute or value fails here, not silently in production.
func TestTerraformFiltersUseTheConstants(t *testing.T) {
	known := map[string][]string{
		message.AttrAction:                {string(policy.Approve), string(policy.StepUp), string(policy.Review), string(policy.Block)},
		message.AttrDecisionAuthenticated: {message.True, "false"},
		message.AttrMessageType:           {string(message.TypeWebhook), string(message.TypeDecision)},
		message.AttrEventClass:            {string(message.ClassSession), string(message.ClassBusiness), string(message.ClassOther), string(message.ClassTest)},
		message.AttrSignature:             {"raw", "v2", "simple"},
		message.AttrLevel:                 {"low", "medium", "high", "critical"},
		message.AttrStepUpKind:            nil, // only tested for presence
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "terraform", "*.tf"))
	require.NoError(t, err)
	require.NotEmpty(t, files)

	// An HCL string literal that mentions attributes.X, then each comparison inside it.
	literal := regexp.MustCompile(`"((?:[^"\\\n]|\\.)*attributes[.:](?:[^"\\\n]|\\.)*)"`)
	ref := regexp.MustCompile(`attributes[.:]([A-Za-z0-9_]+)`) // attributes.X = "v" and attributes:X (has X)
	cmp := regexp.MustCompile(`attributes\.([A-Za-z0-9_]+)\s*(?:=|!=)\s*"([^"]*)"`)
	var filters int
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			expr := strings.ReplaceAll(m[1], `\"`, `"`)
			filters++
			for _, r := range ref.FindAllStringSubmatch(expr, -1) {
				assert.Contains(t, known, r[1], "%s: filter %s names an attribute message does not define", filepath.Base(f), expr)
			}
			for _, c := range cmp.FindAllStringSubmatch(expr, -1) {
				assert.Contains(t, known[c[1]], c[2], "%s: filter %s compares %s with a value the code never sets", filepath.Base(f), expr, c[1])
			}
		}
	}
	assert.Positive(t, filters, "the step-up subscription's filter is found")
}
