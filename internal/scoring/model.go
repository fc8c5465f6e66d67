package scoring

import (
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Model is a model the engine evaluates beside the rules, on every assessment with a decision.
// modelscore.New adapts a *model.Model to it: scoring cannot import internal/model itself,
// whose tests import scoring.
type Model interface {
	// Version names the model; stored with every score and read by rules as model.version.
	Version() string
	// Score reads each feature it needs through get: a variable name rules also read
	// ("signals.liveness_score", "history.sessions_24h") → its Go value (int64, float64, bool,
	// string, []string).
	Score(get func(name string) (any, bool)) (ModelResult, error)
}

// ModelResult is the model's verdict on one assessment, stored with it so a reviewer sees why.
type ModelResult struct {
	Score   float64             `firestore:"score" json:"score"`     // probability of a bad outcome, 0–1
	Version string              `firestore:"version" json:"version"` // the model's version
	Top     []ModelContribution `firestore:"top" json:"top"`         // the features that moved it most, largest first
}

// ModelContribution is how much one feature moved the score, in log-odds (positive: towards a
// bad outcome); see model.Contribution.
type ModelContribution struct {
	Feature      string  `firestore:"feature" json:"feature"`
	Value        float64 `firestore:"value" json:"value"`
	Contribution float64 `firestore:"contribution" json:"contribution"`
}

// Option configures an Engine.
type Option func(*Engine)

// WithModel makes the engine evaluate m on every assessment with a decision: rules read its
// score as model.score and its version as model.version, and the assessment stores the result.
// Without it, model.score is -1 and model.version "".
func WithModel(m Model) Option { return func(e *Engine) { e.model = m } }

// ModelRule is the RuleError.Rule of a model that failed to score: the rules reading model.*
// then fail too (each recorded, counted as not fired), as any rule failing at run time does.
const ModelRule = "model"

// NoModelScore is model.score when the engine has no model.
const NoModelScore = -1.0

// runModel scores the assessment with the engine's model, if any, and makes model.* resolve.
func (e *Engine) runModel(act *activation, a *Assessment) {
	if e.model == nil {
		return
	}
	act.modelVersion = types.String(e.model.Version())
	act.modelNames, act.modelIdx, act.modelNext = e.modelNames, e.modelIdx, 0
	res, err := e.model.Score(act.native)
	if err != nil {
		act.modelScore = types.NewErr("model %s: %v", e.model.Version(), err)
		a.RuleErrors = append(a.RuleErrors, RuleError{Rule: ModelRule, Error: err.Error()})
		return
	}
	act.modelScore = types.Double(res.Score)
	a.Model = &res
}

// native returns a variable's value as Go sees it, for the model's features: the value the
// rules read (converted once, shared with them), not a map built per webhook.
func (a *activation) native(name string) (any, bool) {
	// The model asks for the same names in the same order every time: learnModel recorded
	// them, so the next one is a string comparison rather than a map lookup.
	i := -1
	if n := a.modelNext; n < len(a.modelNames) && a.modelNames[n] == name {
		i = a.modelIdx[n]
		a.modelNext++
	} else if j, ok := a.vars.index[name]; ok {
		i = j
	}
	if i < 0 {
		return nil, false
	}
	return a.value(i).Value(), true
}

// learnModel records the names the model reads, in order, on the baseline activation.
func (e *Engine) learnModel(act *activation) {
	if e.model == nil {
		return
	}
	_, _ = e.model.Score(func(name string) (any, bool) {
		i := e.vars.lookup(name)
		e.modelNames, e.modelIdx = append(e.modelNames, name), append(e.modelIdx, i)
		if i < 0 {
			return nil, false
		}
		return act.value(i).Value(), true
	})
}

func (a *activation) modelScoreVal() ref.Val {
	if a.modelScore == nil {
		return types.Double(NoModelScore)
	}
	return a.modelScore
}

func (a *activation) modelVersionVal() ref.Val {
	if a.modelVersion == nil {
		return types.String("")
	}
	return a.modelVersion
}
