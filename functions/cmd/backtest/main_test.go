package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/backtest"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
	"github.com/riskwire/didit-risk/testdata"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/backtest")

// seeded is the seeded set: 300 synthetic users (about 650 assessments) folded by the scorer's
// fold under the default policy and the default model, as the scorer stores them.
func seeded(t testing.TB) backtest.Records {
	t.Helper()
	m, err := modelscore.Load("")
	require.NoError(t, err)
	var out backtest.Records
	src := backtest.Synthetic{Seed: 1, Users: 300, Eval: profile.NewEvaluator(policy.Default(), scoring.WithModel(m))}
	require.NoError(t, src.Each(context.Background(), backtest.Window{}, true, func(pid string, a *profile.Assessment) error {
		out = append(out, backtest.Record{ProfileID: pid, Assessment: a})
		return nil
	}))
	return out
}

// candidate writes the default policy with each old→new replacement applied once.
func candidate(t testing.TB, pairs ...string) string {
	t.Helper()
	src := string(policy.DefaultSource())
	for i := 0; i < len(pairs); i += 2 {
		require.Equal(t, 1, strings.Count(src, pairs[i]), "replacement %q must match once", pairs[i])
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), "candidate.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	return path
}

// goldenCandidate is the candidate of the golden report, testdata/backtest/candidate.yaml: the
// default policy with a stricter borderline-liveness rule and a VPN rule worth nothing. The
// test pins it to the default policy (-update rewrites it when default.yaml changes).
func goldenCandidate(t testing.TB) string {
	t.Helper()
	gen := candidate(t, "version: \""+policy.Default().Version+"\"", `version: "candidate-1"`,
		"    when: signals.liveness_score >= 50 && signals.liveness_score < 80\n    points: 15\n",
		"    when: signals.liveness_score >= 50 && signals.liveness_score < 85\n    points: 25\n",
		"    when: signals.ip_vpn_or_tor\n    points: 10\n", "    when: signals.ip_vpn_or_tor\n    points: 0\n")
	b, err := os.ReadFile(gen)
	require.NoError(t, err)
	golden(t, "candidate.yaml", b)
	return testdata.Dir(t, "backtest", "candidate.yaml")
}

func runOn(t *testing.T, src backtest.Source, c config) (code int, out string, dir string) {
	t.Helper()
	if c.out == "" {
		c.out = t.TempDir()
	}
	if c.window.Field == "" {
		c.window.Field = backtest.FieldEventTime
	}
	if c.changes == 0 {
		c.changes = 10
	}
	var stdout, stderr bytes.Buffer
	code = execute(context.Background(), c, src, 0, &stdout, &stderr)
	t.Log(stderr.String())
	return code, stdout.String(), c.out
}

func noGuard() backtest.Guard { return backtest.Guard{MaxStricter: -1, MaxLooser: -1} }

func golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := testdata.Dir(t, "backtest", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./functions/cmd/backtest -update to create it")
	assert.Equal(t, string(want), string(got), "golden %s (go test -update rewrites it)", name)
}

// TestGoldenReport: the seeded set backtested against a candidate gives the committed summary
// and report.
func TestGoldenReport(t *testing.T) {
	code, out, dir := runOn(t, seeded(t), config{candidate: goldenCandidate(t), verify: "-", guard: noGuard()})
	require.Equal(t, 0, code, out)
	out = strings.ReplaceAll(out, dir, "OUT")
	golden(t, "report.golden.txt", []byte(out))
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	golden(t, "report.golden.json", js)
	svg, err := os.ReadFile(filepath.Join(dir, "scores.svg"))
	require.NoError(t, err)
	golden(t, "example.svg", svg)

	var rep backtest.Report
	require.NoError(t, json.Unmarshal(js, &rep))
	assert.Zero(t, rep.Mismatches, "the live policy reproduces every stored verdict")
	assert.Positive(t, rep.Stricter)
	assert.Positive(t, rep.Looser)
	csv, err := os.ReadFile(filepath.Join(dir, "changes.csv"))
	require.NoError(t, err)
	assert.Equal(t, rep.ChangesTotal+1, bytes.Count(csv, []byte("\n")), "changes.csv has every change and a header")
}

// TestGuard: the exit code holds a change that moves more than the configured share.
func TestGuard(t *testing.T) {
	recs := seeded(t)
	cand := goldenCandidate(t)
	_, _, dir := runOn(t, recs, config{candidate: cand, guard: noGuard()})
	var rep backtest.Report
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &rep))
	stricter, looser := rep.Share(rep.Stricter), rep.Share(rep.Looser)
	require.Positive(t, stricter)
	require.Positive(t, looser)
	tests := []struct {
		name  string
		guard backtest.Guard
		code  int
		out   string
	}{
		{"no limits", noGuard(), 0, ""},
		{"within both", backtest.Guard{MaxStricter: stricter, MaxLooser: looser}, 0, "guard: within limits"},
		{"too strict", backtest.Guard{MaxStricter: stricter / 2, MaxLooser: -1}, 1, "HELD: guard: [" + strconv.Itoa(rep.Stricter) + " stricter"},
		{"too loose", backtest.Guard{MaxStricter: -1, MaxLooser: looser / 2}, 1, "looser"},
		{"zero tolerance", backtest.Guard{MaxStricter: 0, MaxLooser: 0}, 1, "HELD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runOn(t, recs, config{candidate: cand, guard: tt.guard})
			assert.Equal(t, tt.code, code, out)
			assert.Contains(t, out, tt.out)
		})
	}
	code, out, _ := runOn(t, recs, config{candidate: "-", guard: backtest.Guard{}})
	assert.Equal(t, 0, code, "the live policy itself moves nobody: %s", out)
}

// TestSVGIsWellFormedWithTheExpectedBars: scores.svg parses as XML and holds one live and one
// candidate bar per bin, each carrying the report's count, the tallest as high as the plot.
func TestSVGIsWellFormedWithTheExpectedBars(t *testing.T) {
	_, _, dir := runOn(t, seeded(t), config{candidate: goldenCandidate(t), guard: noGuard()})
	var rep backtest.Report
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &rep))
	f, err := os.Open(filepath.Join(dir, "scores.svg"))
	require.NoError(t, err)
	defer f.Close()
	dec := xml.NewDecoder(f)
	counts := map[string][]int{}
	heights := map[string][]int{}
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "well-formed XML")
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
			assert.Equal(t, "http://www.w3.org/2000/svg", se.Name.Space)
		}
		attr := map[string]string{}
		for _, a := range se.Attr {
			attr[a.Name.Local] = a.Value
		}
		if se.Name.Local != "rect" || attr["class"] == "" {
			continue
		}
		n, err := strconv.Atoi(attr["data-count"])
		require.NoError(t, err)
		h, err := strconv.Atoi(attr["height"])
		require.NoError(t, err)
		counts[attr["class"]] = append(counts[attr["class"]], n)
		heights[attr["class"]] = append(heights[attr["class"]], h)
	}
	assert.Equal(t, "svg", root)
	assert.Equal(t, rep.LiveScores[:], counts["live"])
	assert.Equal(t, rep.CandidateScores[:], counts["candidate"])
	peak, tallest := 0, 0
	for _, class := range []string{"live", "candidate"} {
		for i, n := range counts[class] {
			if n > peak {
				peak, tallest = n, heights[class][i]
			}
			if n == 0 {
				assert.Zero(t, heights[class][i])
			}
		}
	}
	assert.Equal(t, 230, tallest, "the tallest bar fills the plot")
}

// TestBacktestWithAndWithoutTheModelRule (issue 16): the default policy against a copy whose
// model rule counts: the report shows the rule moving from shadow to counted, and users whose
// action changes because of it.
func TestBacktestWithAndWithoutTheModelRule(t *testing.T) {
	withModel := candidate(t, "    when: model.score >= 0.8\n    points: 30\n    shadow: true\n", "    when: model.score >= 0.8\n    points: 30\n")
	code, out, dir := runOn(t, seeded(t), config{candidate: withModel, guard: noGuard()})
	require.Equal(t, 0, code, out)
	var rep backtest.Report
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &rep))
	var shadowLive, counted int
	for _, rc := range rep.Rules {
		if rc.Rule != "model_high_risk" {
			continue
		}
		if rc.Shadow {
			shadowLive = rc.Live
			assert.Zero(t, rc.Candidate, "no longer shadow in the candidate")
		} else {
			counted = rc.Candidate
			assert.Zero(t, rc.Live, "never counted live")
		}
	}
	assert.Positive(t, shadowLive)
	assert.Equal(t, shadowLive, counted, "it fires where it fired in shadow, now counted")
	assert.Positive(t, rep.Stricter)
	assert.Zero(t, rep.Looser, "adding points never loosens")
	assert.Equal(t, rep.ChangesTotal, rep.Disagreement["model_high_risk"], "every change is the model rule's")
	assert.Contains(t, out, "model_high_risk (shadow)")
	assert.Contains(t, out, "+model_high_risk")
	assert.Greater(t, rep.CandScoreSum, rep.LiveScoreSum)
}

// TestShadowMode: the stored shadow verdicts compared with the stored live ones give the same
// report as backtesting the shadow policy; assessments without a shadow verdict are skipped.
func TestShadowMode(t *testing.T) {
	recs := seeded(t)
	shadowPol, err := policy.Load(goldenCandidate(t))
	require.NoError(t, err)
	rp := backtest.NewReplayer(shadowPol)
	withShadow := make(backtest.Records, len(recs))
	for i, rec := range recs {
		a := *rec.Assessment
		if i%10 != 9 { // one in ten was stored before the shadow policy was set
			s := rp.Replay(&a)
			sv := &profile.ShadowVerdict{PolicyVersion: s.PolicyVersion, Score: s.Score, Level: s.Level, Action: s.Action}
			for _, r := range s.Reasons {
				sv.Reasons = append(sv.Reasons, profile.Reason{Rule: r.Rule, Points: r.Points, Description: r.Description})
			}
			a.ShadowPolicy = sv
		}
		withShadow[i] = backtest.Record{ProfileID: rec.ProfileID, Assessment: &a}
	}
	code, out, dir := runOn(t, withShadow, config{shadow: true, guard: noGuard()})
	require.Equal(t, 0, code, out)
	var rep backtest.Report
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &rep))
	assert.Equal(t, "shadow", rep.Mode)
	assert.Equal(t, len(recs)/10, rep.Skipped)
	assert.Equal(t, len(recs)-len(recs)/10, rep.Assessments)
	assert.Positive(t, rep.ChangesTotal)
	assert.Equal(t, rep.Assessments, rep.Agree+countDisagree(rep))
	assert.Contains(t, out, "agreement: ")
	assert.Contains(t, out, "disagreements by rule:")
	assert.Contains(t, out, "action: live \\ shadow")
}

// countDisagree counts the assessments whose level or action differs, from the matrices.
func countDisagree(r backtest.Report) int {
	// Agree needs both equal; an assessment off the level diagonal or the action diagonal disagrees.
	same := 0
	for i := range 5 {
		same += r.Actions[i][i]
	}
	diffAction := r.Assessments - same
	sameLevel := 0
	for i := range 5 {
		sameLevel += r.Levels[i][i]
	}
	return max(diffAction, r.Assessments-sameLevel, r.Assessments-r.Agree)
}

func TestParse(t *testing.T) {
	env := func(k string) string {
		if k == "GOOGLE_CLOUD_PROJECT" {
			return "p"
		}
		return ""
	}
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"backtest", []string{"-policy", "c.yaml"}, ""},
		{"shadow", []string{"-shadow", "-latest-per-user", "-since", "2026-11-01", "-until", "2026-12-01T00:00:00Z"}, ""},
		{"neither", nil, "one of them"},
		{"both", []string{"-shadow", "-policy", "c.yaml"}, "one of them"},
		{"bad since", []string{"-policy", "c", "-since", "yesterday"}, "-since"},
		{"window reversed", []string{"-policy", "c", "-since", "2026-12-01", "-until", "2026-11-01"}, "before"},
		{"bad field", []string{"-policy", "c", "-time-field", "updated_at"}, "window field"},
		{"extra args", []string{"-policy", "c", "x"}, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.args, env, io.Discard, false)
			if tt.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.err)
			}
		})
	}
	_, err := parse([]string{"-policy", "c"}, func(string) string { return "" }, io.Discard, false)
	assert.ErrorContains(t, err, "-project")
	var stderr bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"-nope"}, env, io.Discard, &stderr, false))
	_, err = parse([]string{"-policy", "c", "-synthetic", "5"}, func(string) string { return "" }, io.Discard, false)
	assert.NoError(t, err, "-synthetic needs no project")
}

// TestSynthetic: -synthetic backtests generated users without Firestore, as the README shows:
// its summary is the golden one.
func TestSynthetic(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-synthetic", "300", "-policy", goldenCandidate(t), "-verify", "-", "-out", dir, "-changes", "10"},
		func(string) string { return "" }, &stdout, &stderr, false)
	require.Equal(t, 0, code, stderr.String())
	want, err := os.ReadFile(testdata.Dir(t, "backtest", "report.golden.txt"))
	require.NoError(t, err)
	assert.Equal(t, string(want), strings.ReplaceAll(stdout.String(), dir, "OUT"))
}
