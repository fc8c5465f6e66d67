package model

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func assessment(action, didit string) map[string]any {
	s := storedSignals()
	s["didit_status"] = didit
	return map[string]any{"id": "a", "action": action, "session_status": didit, "signals": s, "history": storedHistory()}
}

func TestTrainingWriter(t *testing.T) {
	var buf bytes.Buffer
	tw, err := NewTrainingWriter(&buf, []byte("k"))
	require.NoError(t, err)
	for _, w := range []struct {
		profile string
		a       map[string]any
		written bool
	}{
		{"user-alice@example.com", assessment("approve", "Approved"), true},
		{"user-alice@example.com", assessment("block", "Declined"), true},
		{"user-bob", assessment("review", "Approved"), false},
		{"user-bob", assessment("approve", "Declined"), true},
	} {
		ok, err := tw.Write(w.profile, w.a, nil)
		require.NoError(t, err)
		assert.Equal(t, w.written, ok)
	}
	require.NoError(t, tw.Flush())
	assert.Equal(t, 3, tw.Rows())
	assert.Equal(t, map[string]int{RuleDiditApproved: 1, RuleBlocked: 1, RuleAwaitingReview: 1, RuleDiditDeclined: 1}, tw.Counts())

	out := buf.String()
	assert.NotContains(t, out, "alice")
	assert.NotContains(t, out, "bob")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	assert.Equal(t, TrainingColumns(), rows[0])
	assert.Equal(t, rows[1][0], rows[2][0], "one user, one group")
	assert.NotEqual(t, rows[1][0], rows[3][0])
	assert.Equal(t, []string{"0", RuleDiditApproved, "1"}, rows[1][1:4])
	assert.Equal(t, []string{"1", RuleBlocked, "1"}, rows[2][1:4])
	x, err := FeaturesFromMaps(storedSignals(), storedHistory())
	require.NoError(t, err)
	assert.Equal(t, "91.5", rows[1][4], "liveness_score first")
	assert.Len(t, rows[1], 4+len(x))

	// Another key, other groups: the column cannot be joined across exports.
	var other bytes.Buffer
	tw2, err := NewTrainingWriter(&other, []byte("another key"))
	require.NoError(t, err)
	_, err = tw2.Write("user-alice@example.com", assessment("approve", "Approved"), nil)
	require.NoError(t, err)
	require.NoError(t, tw2.Flush())
	assert.NotContains(t, other.String(), rows[1][0])
}

func TestTrainingWriterRefuses(t *testing.T) {
	_, err := NewTrainingWriter(&bytes.Buffer{}, nil)
	require.Error(t, err)

	var buf bytes.Buffer
	tw, err := NewTrainingWriter(&buf, []byte("k"))
	require.NoError(t, err)
	a := assessment("approve", "Approved")
	delete(a["signals"].(map[string]any), "aml_hits")
	_, err = tw.Write("u", a, nil)
	require.ErrorContains(t, err, "signals.aml_hits is missing")

	require.NoError(t, tw.Flush())
	assert.Equal(t, strings.Join(TrainingColumns(), ",")+"\n", buf.String(), "an empty export still has its header")
}
