// Package modelscore runs an internal/model model inside the scoring engine: it adapts
// *model.Model to scoring.Model. It is a package of its own because scoring cannot import
// internal/model (whose tests import scoring).
package modelscore

import (
	"fmt"

	"github.com/riskwire/didit-risk/internal/model"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// Adapter is a *model.Model as the engine evaluates it. Immutable, safe for concurrent use.
type Adapter struct{ m *model.Model }

var _ scoring.Model = (*Adapter)(nil)

// New adapts m.
func New(m *model.Model) *Adapter { return &Adapter{m: m} }

// Load loads the model at path (its header at path + ".json"), or the embedded default model
// when path is empty. A corrupt file or one trained for another feature version is an error
// (model.ErrCorrupt, model.ErrFeatureVersion).
func Load(path string) (*Adapter, error) {
	var (
		m   *model.Model
		err error
	)
	if path == "" {
		m, err = model.LoadDefault()
	} else {
		m, err = model.Load(path)
	}
	if err != nil {
		return nil, err
	}
	return New(m), nil
}

// Version implements scoring.Model.
func (a *Adapter) Version() string { return a.m.Version() }

// Score implements scoring.Model: the feature vector from the engine's variables
// (model.FeaturesFrom), scored and explained.
func (a *Adapter) Score(get func(name string) (any, bool)) (scoring.ModelResult, error) {
	x, err := model.FeaturesFrom(get)
	if err != nil {
		return scoring.ModelResult{}, fmt.Errorf("features: %w", err)
	}
	r, err := a.m.Score(x)
	if err != nil {
		return scoring.ModelResult{}, err
	}
	out := scoring.ModelResult{Score: r.Score, Version: r.Version}
	if len(r.Top) > 0 {
		out.Top = make([]scoring.ModelContribution, len(r.Top))
		for i, c := range r.Top {
			out.Top[i] = scoring.ModelContribution{Feature: c.Feature, Value: c.Value, Contribution: c.Contribution}
		}
	}
	return out, nil
}
