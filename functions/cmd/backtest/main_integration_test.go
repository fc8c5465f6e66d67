//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/backtest"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
)

var errEnough = errors.New("enough")

// seedN is the first n assessments of the synthetic users (seed 7), as the scorer stores them;
// every other one carries a shadow verdict of shadow.
func seedN(t *testing.T, n int, shadow *policy.Policy) backtest.Records {
	m, err := modelscore.Load("")
	require.NoError(t, err)
	rp := backtest.NewReplayer(shadow)
	var out backtest.Records
	src := backtest.Synthetic{Seed: 7, Users: n, Eval: profile.NewEvaluator(policy.Default(), scoring.WithModel(m))}
	err = src.Each(context.Background(), backtest.Window{}, true, func(pid string, a *profile.Assessment) error {
		a.ExpireAt = a.CreatedAt.Add(profile.DefaultAssessmentRetention)
		if len(out)%2 == 0 {
			s := rp.Replay(a)
			a.ShadowPolicy = &profile.ShadowVerdict{PolicyVersion: s.PolicyVersion, Score: s.Score, Level: s.Level, Action: s.Action}
			for _, r := range s.Reasons {
				a.ShadowPolicy.Reasons = append(a.ShadowPolicy.Reasons, profile.Reason{Rule: r.Rule, Points: r.Points, Description: r.Description})
			}
		}
		out = append(out, backtest.Record{ProfileID: pid, Assessment: a})
		if len(out) == n {
			return errEnough
		}
		return nil
	})
	require.ErrorIs(t, err, errEnough)
	return out
}

func readReport(t *testing.T, dir string) backtest.Report {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	var r backtest.Report
	require.NoError(t, json.Unmarshal(js, &r))
	return r
}

// TestBacktestThroughTheEmulator seeds 10,000 assessments on the Firestore emulator with a
// BulkWriter, backtests them with this command (pages of 500), and checks the report equals
// the one computed from the same assessments in memory: every assessment read once, the live
// policy reproducing every stored verdict after the Firestore round trip, the latest-per-user
// reduction over the path-ordered stream, and the shadow comparison. (The window is applied
// in the process, on the same stream: its tests need no emulator.)
func TestBacktestThroughTheEmulator(t *testing.T) {
	const n = 10_000
	ctx := context.Background()
	project := emulatortest.Project(t)
	fs := emulatortest.Firestore(t, project)
	cand := goldenCandidate(t)
	candPol, err := policy.Load(cand)
	require.NoError(t, err)
	recs := seedN(t, n, candPol)

	start := time.Now()
	bw := fs.BulkWriter(ctx)
	for _, r := range recs {
		_, err := bw.Set(fs.Collection(profile.Profiles).Doc(r.ProfileID).Collection(profile.Assessments).Doc(r.Assessment.ID), r.Assessment)
		require.NoError(t, err)
	}
	// An "assessments" collection outside risk_profiles is not read.
	_, err = bw.Set(fs.Collection("elsewhere").Doc("x").Collection(profile.Assessments).Doc("y"), recs[0].Assessment)
	require.NoError(t, err)
	bw.End()
	t.Logf("seeded %d assessments in %s", n, time.Since(start).Round(time.Millisecond))

	rate := regexp.MustCompile(`read in .* \((\d+)/s\)`)
	tests := []struct {
		name string
		args []string
		cfg  config
	}{
		{"all", []string{"-policy", cand, "-verify", "-"}, config{candidate: cand, verify: "-"}},
		{"latest per user", []string{"-policy", cand, "-latest-per-user"}, config{candidate: cand, latest: true}},
		{"shadow", []string{"-shadow"}, config{shadow: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			args := append([]string{"-project", project, "-out", dir, "-page", "500"}, tt.args...)
			start := time.Now()
			code := run(ctx, args, os.Getenv, &stdout, &stderr, false)
			elapsed := time.Since(start)
			require.Equal(t, 0, code, "stdout %s\nstderr %s", stdout.String(), stderr.String())
			got := readReport(t, dir)
			m := rate.FindStringSubmatch(stderr.String())
			require.NotNil(t, m, stderr.String())
			t.Logf("%s: %d read, %d compared in %s (%s assessments/s through the emulator)", tt.name, got.Read, got.Assessments, elapsed.Round(time.Millisecond), m[1])

			tt.cfg.guard, tt.cfg.window.Field = noGuard(), backtest.FieldEventTime
			_, _, wantDir := runOn(t, recs, tt.cfg)
			want := readReport(t, wantDir)
			assert.Equal(t, n, got.Read, "every assessment read once, the stray collection not at all")
			assert.Zero(t, got.Mismatches, "%v", got.MismatchSamples)
			// Reading order differs (document path vs generation), so compare what does not depend on it.
			got.Changes, want.Changes = nil, nil
			assert.Equal(t, want, got)
			assert.Positive(t, got.Assessments)
		})
	}
}
