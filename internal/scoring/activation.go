package scoring

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/riskwire/didit-risk/internal/policy"
)

// activation resolves signals.*, risk.*, history.* and model.* for CEL from the Go structs. Each value is
// converted at most once per evaluation and then shared by every rule that reads it; the
// engine's memo compares the same values with those of its baseline (see ruleMemo).
type activation struct {
	vars *variables
	sig  Signals
	// fields points at each field of sig, by field index: taken once when the activation is
	// made, so that reading a signal is a type assertion rather than a reflect call.
	fields []any
	hist   History
	vals   []ref.Val // by variable index; nil until first read
	// changed marks, by variable index, the variables whose value differs from the engine's
	// baseline. The risk.<CODE> bits are set from the few codes raised, so the ~100 codes that
	// are not need no comparison; Engine.Evaluate adds the other variables.
	changed bitset
	// modelScore and modelVersion are model.score and model.version, set by Engine.runModel;
	// nil without a model (-1 and "").
	modelScore, modelVersion ref.Val
	// modelNames, modelIdx and modelNext serve the model's reads in their usual order (native).
	modelNames []string
	modelIdx   []int
	modelNext  int
}

var _ interpreter.Activation = (*activation)(nil)

// resolver reads one variable.
type resolver func(a *activation) ref.Val

// variables is every variable the activation resolves, by index.
type variables struct {
	names     []string
	resolvers []resolver
	index     map[string]int // name -> index
	riskIndex map[string]int // risk code -> index of risk.<CODE>
	isRisk    []bool         // by index: a risk.<CODE> variable
	pool      sync.Pool      // of *activation sized for these variables
}

// vocabulary is built on first use (the first NewEngine), not in init.
var vocabulary = sync.OnceValue(newVariables)

func newVariables() *variables {
	v := &variables{index: map[string]int{}, riskIndex: map[string]int{}}
	add := func(name string, r resolver) {
		if _, dup := v.index[name]; dup {
			panic("scoring: variable registered twice: " + name)
		}
		v.index[name] = len(v.names)
		v.names = append(v.names, name)
		v.resolvers = append(v.resolvers, r)
	}

	// signals.*: one variable per field of Signals whose doc tag is not "-", as in the
	// declarations policy generates from the same tags.
	t := reflect.TypeFor[Signals]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("doc") == "-" {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("firestore"), ",")
		var r resolver
		switch f.Type {
		case reflect.TypeFor[string]():
			r = func(a *activation) ref.Val { return types.String(*a.fields[i].(*string)) }
		case reflect.TypeFor[bool]():
			r = func(a *activation) ref.Val { return types.Bool(*a.fields[i].(*bool)) }
		case reflect.TypeFor[int64]():
			r = func(a *activation) ref.Val { return types.Int(*a.fields[i].(*int64)) }
		case reflect.TypeFor[float64]():
			r = func(a *activation) ref.Val { return types.Double(*a.fields[i].(*float64)) }
		case reflect.TypeFor[[]string]():
			r = func(a *activation) ref.Val {
				return types.NewStringList(types.DefaultTypeAdapter, *a.fields[i].(*[]string))
			}
		default:
			panic(fmt.Sprintf("scoring: Signals.%s: unsupported type %s", f.Name, f.Type))
		}
		add("signals."+name, r)
	}

	// risk.<CODE>: whether any feature reported the code.
	for _, code := range policy.RiskCodes() {
		v.riskIndex[code] = len(v.names)
		add(policy.RiskVarPrefix+code, func(a *activation) ref.Val {
			return types.Bool(slices.Contains(a.sig.RiskCodes, code))
		})
	}

	// history.*: History is a fixed, untagged type; its names are listed here.
	add("history.sessions_24h", func(a *activation) ref.Val { return types.Int(a.hist.Sessions24h) })
	add("history.sessions_30d", func(a *activation) ref.Val { return types.Int(a.hist.Sessions30d) })
	add("history.declined_sessions", func(a *activation) ref.Val { return types.Int(a.hist.DeclinedSessions) })
	add("history.distinct_documents", func(a *activation) ref.Val { return types.Int(a.hist.DistinctDocuments) })
	add("history.distinct_devices", func(a *activation) ref.Val { return types.Int(a.hist.DistinctDevices) })
	add("history.previous_level", func(a *activation) ref.Val { return types.String(a.hist.PreviousLevel) })
	add("history.previous_action", func(a *activation) ref.Val { return types.String(a.hist.PreviousAction) })
	add("history.is_step_up", func(a *activation) ref.Val { return types.Bool(a.hist.IsStepUp) })
	add("history.step_up_kind", func(a *activation) ref.Val { return types.String(a.hist.StepUpKind) })
	add("history.step_ups", func(a *activation) ref.Val { return stepUpsValue(a.hist.StepUps) })
	for _, kind := range policy.StepKinds() {
		add("history.step_ups."+string(kind)+".status", func(a *activation) ref.Val { return types.String(a.hist.StepUps[kind].Status) })
		add("history.step_ups."+string(kind)+".outcome", func(a *activation) ref.Val { return types.String(a.hist.StepUps[kind].Outcome) })
	}

	// model.*: the engine's model on this assessment (see WithModel).
	add("model.score", (*activation).modelScoreVal)
	add("model.version", (*activation).modelVersionVal)

	v.isRisk = make([]bool, len(v.names))
	for _, i := range v.riskIndex {
		v.isRisk[i] = true
	}
	v.pool.New = func() any {
		a := &activation{vars: v, vals: make([]ref.Val, len(v.names)), changed: newBitset(len(v.names))}
		sig := reflect.ValueOf(&a.sig).Elem()
		a.fields = make([]any, sig.NumField())
		for i := range a.fields {
			a.fields[i] = sig.Field(i).Addr().Interface()
		}
		return a
	}
	return v
}

// stepUpsValue is History.StepUps as the CEL map(string, map(string, string)) history.step_ups,
// holding the kinds that have a step-up: `"nfc" in history.step_ups` tells whether one exists.
// A kind without one has no entry; step_up_status("nfc") and history.step_ups.nfc.status read
// "" for it (they are variables of their own).
func stepUpsValue(m map[policy.StepKind]StepUp) ref.Val {
	native := make(map[string]map[string]string, len(m))
	for k, su := range m {
		native[string(k)] = map[string]string{"status": string(su.Status), "outcome": string(su.Outcome)}
	}
	return types.DefaultTypeAdapter.NativeToValue(native)
}

// lookup returns the index of a variable, or -1.
func (v *variables) lookup(name string) int {
	if i, ok := v.index[name]; ok {
		return i
	}
	return -1
}

// newActivation takes an activation from the pool; release gives it back. Pooling saves
// allocating the value and bit slices on every evaluation.
func (v *variables) newActivation(sig *Signals, hist *History) *activation {
	a := v.pool.Get().(*activation)
	a.sig, a.hist = *sig, *hist
	for _, c := range a.sig.RiskCodes {
		if i, ok := v.riskIndex[c]; ok {
			a.changed.set(i)
		}
	}
	return a
}

func (a *activation) release() {
	a.sig, a.hist = Signals{}, History{}
	a.modelScore, a.modelVersion = nil, nil
	a.modelNames, a.modelIdx, a.modelNext = nil, nil, 0
	clear(a.vals)
	clear(a.changed)
	a.vars.pool.Put(a)
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	i, ok := a.vars.index[name]
	if !ok {
		return nil, false
	}
	return a.value(i), true
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// value returns variable i, converting it on first use.
func (a *activation) value(i int) ref.Val {
	if v := a.vals[i]; v != nil {
		return v
	}
	v := a.vars.resolvers[i](a)
	a.vals[i] = v
	return v
}

// markChanged sets the changed bit of each variable in idx whose value differs from defaults.
func (a *activation) markChanged(idx []int, defaults []ref.Val) {
	for _, i := range idx {
		if !sameVal(a.value(i), defaults[i]) {
			a.changed.set(i)
		}
	}
}

// bitset is a set of variable indexes.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int) { b[i/64] |= 1 << (i % 64) }

func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }

// intersects reports whether b and o share an index.
func (b bitset) intersects(o bitset) bool {
	for i := range b {
		if b[i]&o[i] != 0 {
			return true
		}
	}
	return false
}

// sameVal is a cheap, conservative equality: scalars by value, lists and maps only when both
// are empty. "Not the same" merely means the rule is evaluated.
func sameVal(x, y ref.Val) bool {
	switch x.(type) {
	case types.Bool, types.Int, types.Double, types.String:
		return x == y
	case traits.Sizer:
		ys, ok := y.(traits.Sizer)
		return ok && x.Type() == y.Type() && x.(traits.Sizer).Size() == types.Int(0) && ys.Size() == types.Int(0)
	}
	return false
}
