// Package model scores an assessment with a gradient-boosted tree model beside the policy's
// rules. The model is an XGBoost binary:logistic gbtree in XGBoost's binary format, evaluated by
// github.com/dmitryikh/leaves (pure Go), with a JSON header next to it (the same path + ".json")
// that names the feature version and features it was trained on. Load refuses a model whose
// header does not match this build's feature vector (features.go) or whose file does not match
// the header's checksum.
//
// The embedded default model (LoadDefault) was trained by train/train.py on synthetic
// assessments from train/gendata: it demonstrates the path and is no fraud model.
package model

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed" // the default model
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/dmitryikh/leaves"
)

// Sentinel errors of Load, for errors.Is.
var (
	// ErrFeatureVersion: the model was trained on another feature vector.
	ErrFeatureVersion = errors.New("model trained for another feature version")
	// ErrCorrupt: the model file or its header cannot be read as a model.
	ErrCorrupt = errors.New("corrupt model")
)

// Header is the JSON file next to a model (model path + ".json"), written by train.py.
type Header struct {
	Version        string    `json:"version"`         // model version, stored with every score
	FeatureVersion int       `json:"feature_version"` // must equal FeatureVersion
	Features       []string  `json:"features"`        // must equal FeatureNames()
	Baseline       []float64 `json:"baseline"`        // per feature: the value contributions are measured against
	ModelSHA256    string    `json:"model_sha256"`    // hex SHA-256 of the model file
	Objective      string    `json:"objective"`
	Trainer        string    `json:"trainer"`
	Data           string    `json:"data"` // what it was trained on, in words
	Metrics        Metrics   `json:"metrics"`
}

// Metrics are train.py's hold-out figures, kept for the record.
type Metrics struct {
	TrainRows   int                  `json:"train_rows"`
	HoldoutRows int                  `json:"holdout_rows"`
	AUC         float64              `json:"auc"`
	AtThreshold map[string]Precision `json:"at_threshold"`
}

// Precision is precision and recall of "score ≥ threshold" on the hold-out set.
type Precision struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
}

// Model is a loaded model. It is immutable and safe for concurrent use.
type Model struct {
	raw      *leaves.Ensemble // predicts the margin (log-odds)
	header   Header
	baseline []float64 // header.Baseline, through forLeaves as features are
	// For each feature: the trees that split on it (as a model of their own, nil when none do)
	// and the sorted thresholds of those splits. A feature's contribution is the change in the
	// margin when it goes back to its baseline; only trees that split on it can change, and they
	// change only when a threshold lies between the value and the baseline.
	sub        []*leaves.Ensemble
	thresholds [][]float64
}

// Result is one scoring.
type Result struct {
	Score   float64        // probability of a bad outcome, 0–1
	Version string         // the model's version
	Top     []Contribution // the features that moved the score most, largest |Contribution| first
}

// Contribution is how much one feature moved the score, in log-odds (the model's margin, the
// unit of XGBoost's pred_contribs): the margin minus the margin with this feature at its
// baseline value (the training set's median) and every other feature unchanged. Positive
// pushes towards a bad outcome. leaves does not compute SHAP values; this "one feature back to
// ordinary" delta is exact and cheap: only the trees splitting on the feature are evaluated
// again (by leaves), and only when a split lies between the value and the baseline. The contributions of
// several features need not add up to the margin (trees interact). Log-odds rather than
// probability so that a strong reason still shows when the score is already near 0 or 1.
type Contribution struct {
	Feature      string
	Value        float64
	Contribution float64
}

// TopContributions is how many contributions a Result keeps at most.
const TopContributions = 5

// minContribution is the smallest |contribution| worth showing a reviewer.
const minContribution = 1e-4

//go:embed testdata/default.model
var defaultModel []byte

//go:embed testdata/default.model.json
var defaultHeader []byte

// LoadDefault returns the embedded default model, trained on synthetic data.
func LoadDefault() (*Model, error) {
	m, err := Parse(defaultModel, defaultHeader)
	if err != nil {
		return nil, fmt.Errorf("embedded default model: %w", err)
	}
	return m, nil
}

// Load reads the model at path and its header at path + ".json".
func Load(path string) (*Model, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	hdr, err := os.ReadFile(path + ".json")
	if err != nil {
		return nil, fmt.Errorf("load model header (written next to the model by train.py): %w", err)
	}
	m, err := Parse(raw, hdr)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return m, nil
}

// Parse builds a model from the model file's bytes and its header's.
func Parse(raw, header []byte) (*Model, error) {
	var h Header
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if h.FeatureVersion != FeatureVersion {
		return nil, fmt.Errorf("%w: model %q was trained for feature version %d, this build computes version %d: "+
			"retrain it (export-training, then train.py)", ErrFeatureVersion, h.Version, h.FeatureVersion, FeatureVersion)
	}
	if want := FeatureNames(); !slices.Equal(h.Features, want) {
		return nil, fmt.Errorf("%w: model %q lists features %v, feature version %d has %v",
			ErrFeatureVersion, h.Version, h.Features, FeatureVersion, want)
	}
	if len(h.Baseline) != len(h.Features) {
		return nil, fmt.Errorf("%w: header has %d baseline values for %d features", ErrCorrupt, len(h.Baseline), len(h.Features))
	}
	if h.Version == "" {
		return nil, fmt.Errorf("%w: header has no version", ErrCorrupt)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != h.ModelSHA256 {
		return nil, fmt.Errorf("%w: model file SHA-256 %s, header says %s (truncated, altered, or not the file this header was written for)",
			ErrCorrupt, got, h.ModelSHA256)
	}
	b, info, err := adaptXGBoost(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if info.numFeatures != len(h.Features) {
		return nil, fmt.Errorf("%w: model has %d features, header %d", ErrCorrupt, info.numFeatures, len(h.Features))
	}
	ens, err := leaves.XGEnsembleFromReader(bufio.NewReader(bytes.NewReader(b)), true)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	m := &Model{raw: ens.EnsembleWithRawPredictions(), header: h,
		baseline: make([]float64, len(h.Baseline)), sub: make([]*leaves.Ensemble, len(h.Features)),
		thresholds: make([][]float64, len(h.Features))}
	for i, v := range h.Baseline {
		m.baseline[i] = forLeaves(v)
	}
	using := make([][]int, len(h.Features))
	for t, tree := range info.trees {
		for _, s := range tree.splits {
			if u := using[s.feature]; len(u) == 0 || u[len(u)-1] != t {
				using[s.feature] = append(using[s.feature], t)
			}
			m.thresholds[s.feature] = append(m.thresholds[s.feature], s.threshold)
		}
	}
	for i, trees := range using {
		if len(trees) == 0 {
			continue
		}
		slices.Sort(m.thresholds[i])
		m.thresholds[i] = slices.Compact(m.thresholds[i])
		sub, err := leaves.XGEnsembleFromReader(bufio.NewReader(bytes.NewReader(subModel(b, info, trees))), false)
		if err != nil {
			return nil, fmt.Errorf("%w: trees of feature %s: %v", ErrCorrupt, h.Features[i], err)
		}
		m.sub[i] = sub
	}
	return m, nil
}

// Version returns the model's version.
func (m *Model) Version() string { return m.header.Version }

// Header returns the model's header.
func (m *Model) Header() Header {
	h := m.header
	h.Features, h.Baseline = slices.Clone(h.Features), slices.Clone(h.Baseline)
	return h
}

// Score evaluates the model on a feature vector (FeaturesFrom, FeaturesFromMaps) and explains
// the result. It costs one evaluation of the ensemble, plus two of the trees splitting on each
// feature that is on the other side of some split from its baseline.
func (m *Model) Score(x []float64) (Result, error) {
	v, out, err := m.input(x)
	if err != nil {
		return Result{}, fmt.Errorf("score: %w", err)
	}
	margin := predict(m.raw, v, out)
	if math.IsNaN(margin) {
		return Result{}, fmt.Errorf("score: model %s returned NaN", m.header.Version)
	}
	res := Result{Score: sigmoid(margin), Version: m.header.Version}
	var top [TopContributions + 1]Contribution
	n := 0
	for i, f := range v {
		base := m.baseline[i]
		if !m.crosses(i, f, base) {
			continue // no split between the value and the baseline: the margin is the same
		}
		with := predict(m.sub[i], v, out)
		v[i] = base
		c := with - predict(m.sub[i], v, out)
		v[i] = f
		if math.Abs(c) < minContribution {
			continue
		}
		// Insertion into a short sorted array: no allocation, at most TopContributions moves.
		j := n
		for j > 0 && math.Abs(top[j-1].Contribution) < math.Abs(c) {
			top[j] = top[j-1]
			j--
		}
		top[j] = Contribution{Feature: m.header.Features[i], Value: x[i], Contribution: c}
		n = min(n+1, TopContributions)
	}
	if n > 0 {
		res.Top = slices.Clone(top[:n])
	}
	return res, nil
}

// input checks x and returns it as leaves should see it (forLeaves), with a one-element output
// buffer: one allocation, where leaves' PredictSingle allocates its result on every call.
func (m *Model) input(x []float64) (v, out []float64, err error) {
	if len(x) != len(m.header.Features) {
		return nil, nil, fmt.Errorf("%d features, model %s wants %d", len(x), m.header.Version, len(m.header.Features))
	}
	buf := make([]float64, len(x)+1)
	v, out = buf[:len(x)], buf[len(x):]
	for i, f := range x {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, nil, fmt.Errorf("feature %s is %v", m.header.Features[i], f)
		}
		v[i] = forLeaves(f)
	}
	return v, out, nil
}

// crosses reports whether some split on feature i sends a and b different ways.
func (m *Model) crosses(i int, a, b float64) bool {
	if a == b || m.sub[i] == nil {
		return false
	}
	lo, hi := min(a, b), max(a, b)
	// leaves goes left when value <= t: a and b part at t when lo <= t < hi.
	th := m.thresholds[i]
	k, _ := slices.BinarySearch(th, lo)
	return k < len(th) && th[k] < hi
}

// forLeaves makes leaves take XGBoost's branches. XGBoost holds a feature as a float32 and goes
// left when it is < the (float32) split value; leaves goes left when the float64 it is given is
// <= the split value. For float32 x and t, x < t exactly when the next float32 above x is <= t,
// so that is the value leaves gets. (Without it, a value on a split, frequent with one-decimal
// scores, went the other way: TestParityWithXGBoost caught differences of 0.03.)
func forLeaves(x float64) float64 {
	return float64(math.Nextafter32(float32(x), float32(math.Inf(1))))
}

// predict returns the raw output of e on v, written through out (length 1). leaves fails only
// on lengths, which the callers guarantee; NaN then, which Score refuses.
func predict(e *leaves.Ensemble, v, out []float64) float64 {
	if err := e.Predict(v, 0, out); err != nil {
		return math.NaN()
	}
	return out[0]
}

// Predict returns the score alone: one evaluation of the ensemble, no contributions.
func (m *Model) Predict(x []float64) (float64, error) {
	v, out, err := m.input(x)
	if err != nil {
		return 0, fmt.Errorf("predict: %w", err)
	}
	p := sigmoid(predict(m.raw, v, out))
	if math.IsNaN(p) {
		return 0, fmt.Errorf("predict: model %s returned NaN", m.header.Version)
	}
	return p, nil
}

func sigmoid(m float64) float64 { return 1 / (1 + math.Exp(-m)) }
