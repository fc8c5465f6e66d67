//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/model"
	"github.com/riskwire/didit-risk/internal/model/synth"
	"github.com/riskwire/didit-risk/internal/profile"
)

// python is Debian's interpreter, where python3-xgboost and python3-sklearn install.
const python = "/usr/bin/python3"

// TestExportTrainLoad runs the whole loop on a small generated set: seed the Firestore emulator
// with synthetic profiles and assessments, export them with this command, train with train.py,
// load the model it wrote and score.
func TestExportTrainLoad(t *testing.T) {
	requireTrainer(t)
	ctx := context.Background()
	project := emulatortest.Project(t)
	fs := emulatortest.Firestore(t, project)

	start := time.Now()
	profiles := synth.Generate(11, 400)
	bw := fs.BulkWriter(ctx)
	for _, p := range profiles {
		ref := fs.Collection(profile.Profiles).Doc(p.ID)
		_, err := bw.Set(ref, p.Doc)
		require.NoError(t, err)
		for _, a := range p.Assessments {
			_, err := bw.Set(ref.Collection(profile.Assessments).Doc(a["id"].(string)), a)
			require.NoError(t, err)
		}
	}
	// An "assessments" collection outside risk_profiles must not be exported.
	_, err := bw.Set(fs.Collection("elsewhere").Doc("x").Collection(profile.Assessments).Doc("y"), profiles[0].Assessments[0])
	require.NoError(t, err)
	bw.End()
	seeded := time.Since(start)

	// What the export must contain: the same rows, written from the generated maps directly.
	var want bytes.Buffer
	tw, err := model.NewTrainingWriter(&want, []byte("k"))
	require.NoError(t, err)
	for _, p := range profiles {
		outcomes := model.StepUpOutcomes(p.Doc)
		for _, a := range p.Assessments {
			_, err := tw.Write(p.ID, a, outcomes[a["id"].(string)])
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Flush())

	dir := t.TempDir()
	out := filepath.Join(dir, "training.csv")
	var stderr bytes.Buffer
	start = time.Now()
	require.NoError(t, run(ctx, []string{"-project", project, "-out", out}, os.Getenv, &stderr), stderr.String())
	exported := time.Since(start)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	got := readCSV(t, raw)
	assert.Equal(t, withoutGroups(readCSV(t, want.Bytes())), withoutGroups(got), "Firestore round trip keeps every row and value")
	assert.Contains(t, stderr.String(), strconv.Itoa(tw.Rows())+" labelled rows of 400 assessments")
	for _, p := range profiles {
		require.NotContains(t, string(raw), p.ID, "no profile ids in the training file")
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	start = time.Now()
	prefix := filepath.Join(dir, "m")
	cmd := exec.Command(python, filepath.Join(moduleRoot(t), "internal/model/train/train.py"),
		"--data", out, "--out", prefix, "--name", "e2e", "--data-note", "integration test")
	outp, err := cmd.CombinedOutput()
	require.NoError(t, err, "train.py: %s", outp)
	trained := time.Since(start)

	start = time.Now()
	m, err := model.Load(prefix + ".model")
	require.NoError(t, err)
	loaded := time.Since(start)
	assert.True(t, strings.HasPrefix(m.Version(), "e2e-"), m.Version())
	assert.Greater(t, m.Header().Metrics.AUC, 0.7, "the synthetic signal is learnable")
	for _, f := range []string{".model.json", ".report.md", ".predictions.csv"} {
		_, err := os.Stat(prefix + f)
		assert.NoError(t, err, f)
	}
	// A PNG with python3-matplotlib, else the SVG train.py draws by hand.
	pictures, err := filepath.Glob(prefix + ".calibration.*")
	require.NoError(t, err)
	assert.Len(t, pictures, 1, "a calibration picture")
	assert.Contains(t, string(mustRead(t, prefix+".report.md")), "Hold-out AUC")

	// The freshly trained model agrees with XGBoost too, and scores the exported rows.
	preds := readCSV(t, mustRead(t, prefix+".predictions.csv"))
	require.NotEmpty(t, preds)
	for _, r := range preds {
		x := floats(t, r[:len(r)-1])
		res, err := m.Score(x)
		require.NoError(t, err)
		want, _ := strconv.ParseFloat(r[len(r)-1], 64)
		require.InDelta(t, want, res.Score, 1e-6)
	}
	bad, good := 0.0, 0.0
	nb, ng := 0, 0
	for _, r := range got {
		res, err := m.Score(floats(t, r[4:]))
		require.NoError(t, err)
		if r[1] == "1" {
			bad, nb = bad+res.Score, nb+1
		} else {
			good, ng = good+res.Score, ng+1
		}
	}
	assert.Greater(t, bad/float64(nb), good/float64(ng)+0.3, "bad outcomes score higher on average")
	t.Logf("seed %v, export %v, train %v, load %v (%d rows)", seeded, exported, trained, loaded, len(got))
}

// requireTrainer fails (never skips) when Debian's XGBoost or scikit-learn is missing.
func requireTrainer(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import xgboost, sklearn").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import xgboost and sklearn (%v: %s): install the Debian packages: "+
			"apt-get install -y python3-xgboost python3-sklearn (and python3-matplotlib for the PNG)", python, err, out)
	}
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test")
		dir = parent
	}
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// readCSV returns the rows after the header, checking the header is the training one or the
// prediction fixture's.
func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	if rows[0][0] == model.ColGroup {
		require.Equal(t, model.TrainingColumns(), rows[0])
	} else {
		require.Equal(t, append(model.FeatureNames(), "xgboost_prediction"), rows[0])
	}
	return rows[1:]
}

func withoutGroups(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r[1:], ",")
	}
	sort.Strings(out)
	return out
}

func floats(t *testing.T, ss []string) []float64 {
	x := make([]float64, len(ss))
	for i, s := range ss {
		var err error
		x[i], err = strconv.ParseFloat(s, 64)
		require.NoError(t, err)
	}
	return x
}
