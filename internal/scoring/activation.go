package scoring

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/riskwire/didit-risk/internal/policy"
)

// activation resolves signals.*, risk.* and history.* straight from the Go structs for CEL,
// without building a map per event. Each value is converted to a CEL value at most once per
// evaluation and then shared by every rule that reads it.
type activation struct {
	sig  Signals // copies, so that the caller's values do not escape to the heap
	hist History
	vals []ref.Val // by resolver index; nil until first read
	// changed marks, by resolver index, the variables whose value differs from the engine's
	// baseline. The risk.<CODE> bits are set from the few codes raised, so the ~100 codes
	// that are not need no lookup at all; Engine.Evaluate adds the other variables.
	changed bitset
}

var _ interpreter.Activation = (*activation)(nil)

// resolver converts one variable.
type resolver func(a *activation) ref.Val

var (
	resolverNames []string
	resolvers     []resolver
	names         nameTable
	riskIndex     = map[string]int{} // risk code -> resolver index of risk.<CODE>
)

func register(name string, r resolver) {
	if slices.Contains(resolverNames, name) {
		panic("scoring: variable registered twice: " + name)
	}
	resolverNames = append(resolverNames, name)
	resolvers = append(resolvers, r)
}

func init() {
	// signals.*: one resolver per field of Signals, so that a new field is a new variable.
	t := reflect.TypeFor[Signals]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("doc") == "-" {
			continue // not a rule variable (Warnings, kept for Merge)
		}
		name, _, _ := strings.Cut(f.Tag.Get("firestore"), ",")
		// Resolvers read the field at its offset: this runs for every variable of every
		// evaluation, and reflect.Value.Field costs more than the rest of the lookup.
		off := f.Offset
		ptr := func(a *activation) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(&a.sig), off) }
		var r resolver
		switch f.Type {
		case reflect.TypeFor[string]():
			r = func(a *activation) ref.Val { return types.String(*(*string)(ptr(a))) }
		case reflect.TypeFor[bool]():
			r = func(a *activation) ref.Val { return types.Bool(*(*bool)(ptr(a))) }
		case reflect.TypeFor[int64]():
			r = func(a *activation) ref.Val { return types.Int(*(*int64)(ptr(a))) }
		case reflect.TypeFor[float64]():
			r = func(a *activation) ref.Val { return types.Double(*(*float64)(ptr(a))) }
		case reflect.TypeFor[[]string]():
			r = func(a *activation) ref.Val {
				return types.NewStringList(types.DefaultTypeAdapter, *(*[]string)(ptr(a)))
			}
		default:
			panic(fmt.Sprintf("scoring: Signals.%s: unsupported type %s", f.Name, f.Type))
		}
		register("signals."+name, r)
	}

	// risk.<CODE>: whether any feature reported the code.
	for _, code := range policy.RiskCodes() {
		riskIndex[code] = len(resolvers)
		register(policy.RiskVarPrefix+code, func(a *activation) ref.Val {
			return types.Bool(slices.Contains(a.sig.RiskCodes, code))
		})
	}

	// history.*: History is a fixed, untagged type; its names are listed here.
	register("history.sessions_24h", func(a *activation) ref.Val { return types.Int(a.hist.Sessions24h) })
	register("history.sessions_30d", func(a *activation) ref.Val { return types.Int(a.hist.Sessions30d) })
	register("history.declined_sessions", func(a *activation) ref.Val { return types.Int(a.hist.DeclinedSessions) })
	register("history.distinct_documents", func(a *activation) ref.Val { return types.Int(a.hist.DistinctDocuments) })
	register("history.distinct_devices", func(a *activation) ref.Val { return types.Int(a.hist.DistinctDevices) })
	register("history.previous_level", func(a *activation) ref.Val { return types.String(a.hist.PreviousLevel) })
	register("history.previous_action", func(a *activation) ref.Val { return types.String(a.hist.PreviousAction) })
	register("history.is_step_up", func(a *activation) ref.Val { return types.Bool(a.hist.IsStepUp) })
	register("history.step_up_kind", func(a *activation) ref.Val { return types.String(a.hist.StepUpKind) })
	register("history.step_ups", func(a *activation) ref.Val { return stepUpsVal(a.hist.StepUps) })
	for _, kind := range policy.StepKinds() {
		register("history.step_ups."+kind+".status", func(a *activation) ref.Val { return types.String(a.hist.StepUps[kind].Status) })
		register("history.step_ups."+kind+".outcome", func(a *activation) ref.Val { return types.String(a.hist.StepUps[kind].Outcome) })
	}

	names = newNameTable(resolverNames)
	isRisk = make([]bool, len(resolvers))
	for _, i := range riskIndex {
		isRisk[i] = true
	}
}

// isRisk marks the risk.<CODE> resolvers, whose changed bits newActivation sets.
var isRisk []bool

var activations = sync.Pool{New: func() any {
	return &activation{vals: make([]ref.Val, len(resolvers)), changed: newBitset(len(resolvers))}
}}

func newActivation(sig *Signals, hist *History) *activation {
	a := activations.Get().(*activation)
	a.sig, a.hist = *sig, *hist
	for _, c := range a.sig.RiskCodes {
		if i, ok := riskIndex[c]; ok {
			a.changed.set(i)
		}
	}
	return a
}

func (a *activation) release() {
	a.sig, a.hist = Signals{}, History{}
	clear(a.vals)
	clear(a.changed)
	activations.Put(a)
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	i := names.lookup(name)
	if i < 0 {
		return nil, false
	}
	return a.value(i), true
}

// value returns variable i, converting it on first use.
func (a *activation) value(i int) ref.Val {
	if v := a.vals[i]; v != nil {
		return v
	}
	v := resolvers[i](a)
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

// bitset is a set of resolver indexes.
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

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// nameTable maps variable names to resolver indexes. Every rule reads several variables, so
// this lookup is the hottest code of an evaluation: an open-addressing table hashed on the
// length and a few bytes of the name beats a Go map (about 9 ns against 15 here).
type nameTable struct {
	mask  uint32
	slots []nameSlot
}

type nameSlot struct {
	name string
	idx  int32
}

func newNameTable(keys []string) nameTable {
	size := uint32(1)
	for size < uint32(len(keys))*4 {
		size <<= 1
	}
	t := nameTable{mask: size - 1, slots: make([]nameSlot, size)}
	for i, k := range keys {
		h := nameHash(k) & t.mask
		for t.slots[h].name != "" {
			h = (h + 1) & t.mask
		}
		t.slots[h] = nameSlot{name: k, idx: int32(i)}
	}
	return t
}

// nameHash mixes the length with bytes near both ends, where the names differ (they all
// start with "signals.", "history." or "risk.").
func nameHash(s string) uint32 {
	n := len(s)
	if n < 4 {
		return uint32(n)
	}
	h := uint32(n)*0x9e3779b1 ^ uint32(s[n-1])<<24 ^ uint32(s[n-2])<<16 ^ uint32(s[n-3])<<8 ^ uint32(s[n/2])
	h ^= uint32(s[n*3/4]) * 0x85ebca6b
	h ^= h >> 15
	return h * 0xc2b2ae35
}

func (t nameTable) lookup(s string) int {
	for h := nameHash(s) & t.mask; ; h = (h + 1) & t.mask {
		switch t.slots[h].name {
		case "":
			return -1
		case s:
			return int(t.slots[h].idx)
		}
	}
}
