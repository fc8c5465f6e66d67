package model

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/riskwire/didit-risk/internal/policy"
)

// Leading columns of the training CSV, before the features (FeatureNames, in order).
const (
	ColGroup          = "group"           // keyed hash of the profile id: rows of one user share it, for a split by user
	ColLabel          = "label"           // 1 bad outcome, 0 good
	ColRule           = "rule"            // the Label rule that decided
	ColFeatureVersion = "feature_version" // FeatureVersion
)

// TrainingColumns returns the CSV header.
func TrainingColumns() []string {
	return append([]string{ColGroup, ColLabel, ColRule, ColFeatureVersion}, FeatureNames()...)
}

// TrainingWriter writes labelled feature rows as CSV. The file holds no personal data and no
// ids: only features, the label, its rule, and a group column that is an HMAC of the profile id
// under a key the caller should draw at random per export and throw away, so rows of one user
// can be kept on one side of a split but cannot be tied to the user.
type TrainingWriter struct {
	w      *csv.Writer
	key    []byte
	header bool
	counts map[string]int // by rule, labelled or not
	rows   int
}

// NewTrainingWriter returns a writer to w; key keys the group hash and must not be empty.
func NewTrainingWriter(w io.Writer, key []byte) (*TrainingWriter, error) {
	if len(key) == 0 {
		return nil, errors.New("training writer: empty group key")
	}
	return &TrainingWriter{w: csv.NewWriter(w), key: key, counts: map[string]int{}}, nil
}

// Write labels one stored assessment (see Label) and writes it when it has a label. It reports
// whether a row was written. An assessment whose features cannot be built is an error: the
// export must not quietly drop the rows the model most needs to see.
func (t *TrainingWriter) Write(profileID string, assessment map[string]any, stepUpOutcomes []string) (bool, error) {
	label, rule, ok := Label(assessment, stepUpOutcomes)
	t.counts[rule]++
	if !ok {
		return false, nil
	}
	signals, _ := assessment["signals"].(map[string]any)
	history, _ := assessment["history"].(map[string]any)
	x, err := FeaturesFromMaps(signals, history)
	if err != nil {
		return false, err
	}
	if err := t.writeHeader(); err != nil {
		return false, err
	}
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(profileID))
	row := make([]string, 0, 4+len(x))
	row = append(row, hex.EncodeToString(mac.Sum(nil))[:16], strconv.Itoa(label), rule, strconv.Itoa(FeatureVersion))
	for _, v := range x {
		row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
	}
	if err := t.w.Write(row); err != nil {
		return false, fmt.Errorf("write training row: %w", err)
	}
	t.rows++
	return true, nil
}

func (t *TrainingWriter) writeHeader() error {
	if t.header {
		return nil
	}
	t.header = true
	if err := t.w.Write(TrainingColumns()); err != nil {
		return fmt.Errorf("write training header: %w", err)
	}
	return nil
}

// Flush writes the header if no row was written, and flushes.
func (t *TrainingWriter) Flush() error {
	if err := t.writeHeader(); err != nil {
		return err
	}
	t.w.Flush()
	if err := t.w.Error(); err != nil {
		return fmt.Errorf("flush training file: %w", err)
	}
	return nil
}

// Rows returns how many rows were written.
func (t *TrainingWriter) Rows() int { return t.rows }

// Counts returns how many assessments each label rule decided, written or not.
func (t *TrainingWriter) Counts() map[string]int {
	out := make(map[string]int, len(t.counts))
	for k, v := range t.counts {
		out[k] = v
	}
	return out
}

// StepUpOutcomes reads a stored profile's step_ups map into the outcomes of the step-ups each
// assessment asked for, by assessment id: the outcome ("approved", "declined", "review") of a
// completed step-up, "pending" for one without an outcome yet.
func StepUpOutcomes(profile map[string]any) map[string][]string {
	steps, _ := profile["step_ups"].(map[string]any)
	out := map[string][]string{}
	for _, v := range steps {
		su, _ := v.(map[string]any)
		id, _ := su["assessment_id"].(string)
		if id == "" {
			continue
		}
		outcome := string(policy.StepPending)
		if st, _ := su["status"].(string); st == string(policy.StepCompleted) {
			if o, _ := su["outcome"].(string); o != "" {
				outcome = o
			}
		}
		out[id] = append(out[id], outcome)
	}
	return out
}
