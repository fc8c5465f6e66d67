package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadDefault(t testing.TB) *Model {
	t.Helper()
	m, err := LoadDefault()
	require.NoError(t, err)
	return m
}

func TestLoadDefault(t *testing.T) {
	m := loadDefault(t)
	assert.True(t, strings.HasPrefix(m.Version(), "synthetic-demo-"), m.Version())
	h := m.Header()
	assert.Equal(t, FeatureVersion, h.FeatureVersion)
	assert.Equal(t, FeatureNames(), h.Features)
	assert.Contains(t, h.Data, "no fraud model")
	assert.Greater(t, h.Metrics.AUC, 0.5)
	assert.Equal(t, len(FeatureNames()), m.raw.NFeatures())
}

// TestParityWithXGBoost: the default model, read through leaves, predicts what XGBoost itself
// predicted for the hold-out rows train.py kept (testdata/default.predictions.csv).
func TestParityWithXGBoost(t *testing.T) {
	m := loadDefault(t)
	f, err := os.Open("testdata/default.predictions.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, append(FeatureNames(), "xgboost_prediction"), rows[0])
	require.GreaterOrEqual(t, len(rows)-1, 100)
	var high, low, worst float64
	for i, r := range rows[1:] {
		x := make([]float64, len(r)-1)
		for j := range x {
			x[j], err = strconv.ParseFloat(r[j], 64)
			require.NoError(t, err)
		}
		want, err := strconv.ParseFloat(r[len(r)-1], 64)
		require.NoError(t, err)
		got, err := m.Score(x)
		require.NoError(t, err)
		require.InDelta(t, want, got.Score, 1e-6, "row %d", i+1)
		worst = math.Max(worst, math.Abs(want-got.Score))
		if want > 0.8 {
			high++
		}
		if want < 0.2 {
			low++
		}
	}
	// The fixture must exercise both ends, or parity would prove little.
	assert.Greater(t, high, 10.0)
	assert.Greater(t, low, 10.0)
	t.Logf("%d rows, largest difference %.2g", len(rows)-1, worst)
}

// rewrite returns the default model's bytes and a header edited by edit, with the checksum
// recomputed unless keepSum.
func rewrite(t *testing.T, editModel func([]byte) []byte, edit func(h map[string]any), keepSum bool) ([]byte, []byte) {
	t.Helper()
	raw := slices.Clone(defaultModel)
	if editModel != nil {
		raw = editModel(raw)
	}
	var h map[string]any
	require.NoError(t, json.Unmarshal(defaultHeader, &h))
	if !keepSum {
		sum := sha256.Sum256(raw)
		h["model_sha256"] = hex.EncodeToString(sum[:])
	}
	if edit != nil {
		edit(h)
	}
	hdr, err := json.Marshal(h)
	require.NoError(t, err)
	return raw, hdr
}

func TestLoadRefuses(t *testing.T) {
	swap := func(h map[string]any) {
		fs := h["features"].([]any)
		fs[0], fs[1] = fs[1], fs[0]
	}
	cases := []struct {
		name    string
		model   func([]byte) []byte
		header  func(map[string]any)
		keepSum bool
		kind    error
		want    string
	}{
		{"other feature version", nil, func(h map[string]any) { h["feature_version"] = FeatureVersion + 1 }, false,
			ErrFeatureVersion, "trained for feature version 2, this build computes version 1"},
		{"features reordered", nil, swap, false, ErrFeatureVersion, "lists features"},
		{"feature missing", nil, func(h map[string]any) { h["features"] = h["features"].([]any)[1:] }, false, ErrFeatureVersion, "lists features"},
		{"byte flipped", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, nil, true, ErrCorrupt, "SHA-256"},
		{"truncated, checksum matching", func(b []byte) []byte { return b[:len(b)*2/3] }, nil, false, ErrCorrupt, "tree"},
		{"garbage, checksum matching", func([]byte) []byte { return []byte(strings.Repeat("\xff", 5000)) }, nil, false, ErrCorrupt, ""},
		{"empty", func([]byte) []byte { return nil }, nil, false, ErrCorrupt, ""},
		{"json model", func([]byte) []byte { return []byte(`{"learner":{}}`) }, nil, false, ErrCorrupt, "JSON format"},
		{"baseline short", nil, func(h map[string]any) { h["baseline"] = h["baseline"].([]any)[1:] }, false, ErrCorrupt, "baseline"},
		{"no version", nil, func(h map[string]any) { h["version"] = "" }, false, ErrCorrupt, "no version"},
		{"unknown header field", nil, func(h map[string]any) { h["featurez"] = 1 }, false, ErrCorrupt, "unknown field"},
		{"split on a feature the model does not have", func(b []byte) []byte {
			_, info, err := adaptXGBoost(b)
			require.NoError(t, err)
			node := len(binfMagic) + info.trees[0].start + treeParamSize // the first tree's root
			binary.LittleEndian.PutUint32(b[node+12:], 1000)
			return b
		}, nil, false, ErrCorrupt, "feature index out of range"},
		{"wrong objective", func(b []byte) []byte {
			return []byte(strings.Replace(string(b), "binary:logistic", "binary:logitraw", 1))
		}, nil, false, ErrCorrupt, "objective"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, hdr := rewrite(t, c.model, c.header, c.keepSum)
			_, err := Parse(raw, hdr)
			require.ErrorIs(t, err, c.kind)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	_, err := Parse(defaultModel, []byte("not json"))
	assert.ErrorIs(t, err, ErrCorrupt)
}

// TestLoadRefusesEveryTruncation: a model cut anywhere (checksum matching, so the structure check
// is what stops it) is refused with an error, never a panic or a huge allocation inside leaves.
func TestLoadRefusesEveryTruncation(t *testing.T) {
	for n := 0; n < len(defaultModel); n += 61 {
		raw, hdr := rewrite(t, func(b []byte) []byte { return b[:n] }, nil, false)
		_, err := Parse(raw, hdr)
		require.ErrorIs(t, err, ErrCorrupt, "cut at %d", n)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.model")
	require.NoError(t, os.WriteFile(path, defaultModel, 0o644))
	_, err := Load(path)
	require.ErrorContains(t, err, "header")

	require.NoError(t, os.WriteFile(path+".json", defaultHeader, 0o644))
	m, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, loadDefault(t).Version(), m.Version())

	_, hdr := rewrite(t, nil, func(h map[string]any) { h["feature_version"] = 0 }, false)
	require.NoError(t, os.WriteFile(path+".json", hdr, 0o644))
	_, err = Load(path)
	require.ErrorIs(t, err, ErrFeatureVersion)
	assert.Contains(t, err.Error(), path)

	_, err = Load(filepath.Join(dir, "absent.model"))
	assert.Error(t, err)
}

// vectors: a clean returning user and a risky one.
func clean(t testing.TB) []float64 {
	s, h := storedSignals(), storedHistory()
	for k, v := range map[string]any{"liveness_score": 93.0, "face_match_score": 91.0, "face_quality": 84.0, "age_gap": 1.5,
		"duplicate_user_matches": int64(0), "nfc_verified": false, "phone_voip": false, "email_breached": false,
		"aml_hits": int64(0), "aml_max_score": 12.0, "aml_pep": false, "ip_vpn_or_tor": false,
		"ip_country_mismatch": false, "risk_errors": nil, "db_validation_match": ""} {
		s[k] = v
	}
	h["previous_level"], h["declined_sessions"], h["sessions_24h"], h["distinct_devices"] = "", int64(0), int64(1), int64(1)
	x, err := FeaturesFromMaps(s, h)
	require.NoError(t, err)
	return x
}

func risky(t testing.TB) []float64 {
	s, h := storedSignals(), storedHistory()
	for k, v := range map[string]any{"liveness_score": 31.0, "face_match_score": 40.0, "face_quality": 55.0, "age_gap": 14.0,
		"document_expired": true, "email_disposable": true, "phone_disposable": true,
		"risk_errors": []any{"DOCUMENT_EXPIRED", "LOW_LIVENESS_SCORE", "LOW_FACE_MATCH_SIMILARITY"}, "db_validation_match": "no_match"} {
		s[k] = v
	}
	h["declined_sessions"], h["distinct_devices"] = int64(2), int64(3)
	x, err := FeaturesFromMaps(s, h)
	require.NoError(t, err)
	return x
}

func TestScore(t *testing.T) {
	m := loadDefault(t)
	c, err := m.Score(clean(t))
	require.NoError(t, err)
	r, err := m.Score(risky(t))
	require.NoError(t, err)
	assert.Less(t, c.Score, 0.2)
	assert.Greater(t, r.Score, 0.8)
	for _, res := range []Result{c, r} {
		assert.Equal(t, m.Version(), res.Version)
		assert.True(t, res.Score >= 0 && res.Score <= 1)
	}

	_, err = m.Score(clean(t)[1:])
	assert.ErrorContains(t, err, "26 features, model")
	x := clean(t)
	x[3] = math.NaN()
	_, err = m.Score(x)
	assert.ErrorContains(t, err, "feature age_gap is NaN")
}

func TestScoreContributions(t *testing.T) {
	m := loadDefault(t)
	x := risky(t)
	res, err := m.Score(x)
	require.NoError(t, err)
	require.NotEmpty(t, res.Top)
	require.LessOrEqual(t, len(res.Top), TopContributions)
	names := FeatureNames()
	for i, c := range res.Top {
		if i > 0 {
			assert.GreaterOrEqual(t, math.Abs(res.Top[i-1].Contribution), math.Abs(c.Contribution), "ordered by |contribution|")
		}
		assert.GreaterOrEqual(t, math.Abs(c.Contribution), minContribution)
		// Recompute it independently: the score with only this feature at its baseline.
		j := slices.Index(names, c.Feature)
		require.GreaterOrEqual(t, j, 0)
		assert.Equal(t, x[j], c.Value)
		alt := slices.Clone(x)
		alt[j] = m.header.Baseline[j]
		without, err := m.Score(alt)
		require.NoError(t, err)
		assert.InDelta(t, logit(res.Score)-logit(without.Score), c.Contribution, 1e-9, c.Feature)
	}
	// The risky user's strongest reasons push the score up, and the leading one is a real signal
	// of this vector, not noise.
	assert.Positive(t, res.Top[0].Contribution)
	assert.Greater(t, res.Top[0].Contribution, 0.5)

	// A vector at the baseline moves nothing.
	base, err := m.Score(slices.Clone(m.header.Baseline))
	require.NoError(t, err)
	assert.Empty(t, base.Top)
}

func BenchmarkScore(b *testing.B) {
	m := loadDefault(b)
	for _, c := range []struct {
		name string
		x    []float64
	}{{"clean", clean(b)}, {"risky", risky(b)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Score(c.x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

func TestPredict(t *testing.T) {
	m := loadDefault(t)
	for _, x := range [][]float64{clean(t), risky(t)} {
		p, err := m.Predict(x)
		require.NoError(t, err)
		res, err := m.Score(x)
		require.NoError(t, err)
		assert.Equal(t, res.Score, p)
	}
	_, err := m.Predict(nil)
	assert.ErrorContains(t, err, "0 features")
}

func BenchmarkPredict(b *testing.B) {
	m := loadDefault(b)
	x := risky(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(x); err != nil {
			b.Fatal(err)
		}
	}
}
