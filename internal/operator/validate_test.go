package operator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
)

func TestValidateActor(t *testing.T) {
	for _, c := range []struct {
		actor    string
		ok       bool
		personal bool
	}{
		{"jdoe", true, false},
		{"ops.alice-2", true, false},
		{"risk_ops", true, false},
		{"", false, false},
		{"j", false, false},
		{"2pac", false, false},
		{"alice@example.com", false, true},
		{"alice@corp", false, true},
		{"+4915112345678", false, true},
		{"ops 1", false, false},
	} {
		t.Run(c.actor, func(t *testing.T) {
			err := ValidateActor(c.actor)
			if c.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, failure.Invalid, failure.KindOf(err))
			assert.Equal(t, c.personal, errorsIs(err, ErrPersonalData))
		})
	}
}

func TestValidateReason(t *testing.T) {
	for _, c := range []struct {
		name, reason string
		ok, personal bool
	}{
		{"ticket", "RISK-1234: chargeback confirmed", true, false},
		{"date", "fraud ring seen 2026-12-01T10:00:00Z, case 88231", true, false},
		{"short numbers", "3 sessions in 24h, rule multi_doc_24h", true, false},
		{"clock time", "retried at 10:30:15 after rule x", true, false},
		{"empty", "  ", false, false},
		{"email", "customer mail jane.doe@example.com confirmed", false, true},
		{"phone", "called +49 151 1234 5678", false, true},
		{"phone dashes", "call 555-123-4567", false, true},
		{"ipv4", "login from 203.0.113.7", false, true},
		{"ipv6", "seen at 2001:db8::1", false, true},
		{"ipv6 full", "seen at 2001:0db8:85a3:0000:0000:8a2e:0370:7334", false, true},
		{"newline", "a\nb", false, false},
		{"too long", string(make([]byte, MaxReason+1)), false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateReason(c.reason)
			if c.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, c.personal, errorsIs(err, ErrPersonalData))
		})
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "72h", want: now.Add(72 * time.Hour)},
		{in: "7d", want: now.Add(7 * 24 * time.Hour)},
		{in: "90m", want: now.Add(90 * time.Minute)},
		{in: "2026-12-05T00:00:00+01:00", want: time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)},
		{in: "", err: true},
		{in: "-1h", err: true},
		{in: "0s", err: true},
		{in: "3x", err: true},
		{in: "1.5d", err: true},
		{in: "400d", err: true},
		{in: "2026-12-01T00:00:00Z", err: true}, // past
		{in: "2028-12-01T00:00:00Z", err: true}, // beyond a year
	} {
		t.Run(c.in, func(t *testing.T) {
			e, err := ParseExpiry(c.in)
			var at time.Time
			if err == nil {
				at, err = e.Time(now)
			}
			if c.err {
				require.Error(t, err)
				assert.Equal(t, failure.Invalid, failure.KindOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, at)
		})
	}
}

func TestOverrideIDIsItsContent(t *testing.T) {
	e72, _ := ParseExpiry("72h")
	e3d, _ := ParseExpiry("3d")
	base := overrideID("u1", policy.Block, "RISK-1", e72, "ops", "")
	assert.Equal(t, base, overrideID("u1", policy.Block, "RISK-1", e72, "ops", ""), "deterministic")
	assert.Equal(t, base, overrideID("u1", policy.Block, "RISK-1", e3d, "ops", ""), "72h and 3d are the same expiry")
	for name, other := range map[string]string{
		"profile": overrideID("u2", policy.Block, "RISK-1", e72, "ops", ""),
		"action":  overrideID("u1", policy.Review, "RISK-1", e72, "ops", ""),
		"reason":  overrideID("u1", policy.Block, "RISK-2", e72, "ops", ""),
		"actor":   overrideID("u1", policy.Block, "RISK-1", e72, "ops2", ""),
		"basis":   overrideID("u1", policy.Block, "RISK-1", e72, "ops", "ovr-x"),
		// length-prefixed fields: moving text between fields changes the id
		"split": overrideID("u1", policy.Block, "RISK-1\n4:ops", e72, "", ""),
	} {
		assert.NotEqual(t, base, other, name)
	}
}
