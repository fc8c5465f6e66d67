package scoring

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// stepUpsVal is History.StepUps as the CEL map(string, map(string, string)) history.step_ups.
// Looking up a kind that has no step-up yields {status: "", outcome: ""} instead of an error, so
// `history.step_ups.nfc.outcome == "approved"` is simply false for a user never stepped up;
// `"nfc" in history.step_ups` still tells whether one exists.
type stepUpsVal map[string]StepUp

var (
	_ traits.Mapper = stepUpsVal(nil)
	_ traits.Mapper = stepUpVal{}
)

func (m stepUpsVal) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.ValOrErr(key, "no such overload"), false
	}
	return stepUpVal(m[string(k)]), true
}

func (m stepUpsVal) Get(key ref.Val) ref.Val {
	v, _ := m.Find(key)
	return v
}

func (m stepUpsVal) Contains(key ref.Val) ref.Val {
	k, ok := key.(types.String)
	if !ok {
		return types.ValOrErr(key, "no such overload")
	}
	_, found := m[string(k)]
	return types.Bool(found)
}

func (m stepUpsVal) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, slices.Sorted(maps.Keys(m))).Iterator()
}

func (m stepUpsVal) Size() ref.Val { return types.Int(len(m)) }

func (m stepUpsVal) Type() ref.Type { return types.MapType }

func (m stepUpsVal) Value() any { return map[string]StepUp(m) }

func (m stepUpsVal) ConvertToNative(t reflect.Type) (any, error) {
	native := make(map[string]map[string]string, len(m))
	for k, v := range m {
		native[k] = stepUpVal(v).native()
	}
	return types.NewDynamicMap(types.DefaultTypeAdapter, native).ConvertToNative(t)
}

func (m stepUpsVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to %s", t)
}

func (m stepUpsVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(stepUpsVal)
	if !ok {
		return types.False
	}
	return types.Bool(maps.Equal(m, o))
}

// stepUpVal is one StepUp as a CEL map(string, string) with the keys status and outcome.
type stepUpVal StepUp

func (s stepUpVal) field(key ref.Val) (types.String, bool) {
	switch key {
	case types.String("status"):
		return types.String(s.Status), true
	case types.String("outcome"):
		return types.String(s.Outcome), true
	}
	return "", false
}

func (s stepUpVal) Find(key ref.Val) (ref.Val, bool) {
	if v, ok := s.field(key); ok {
		return v, true
	}
	if _, ok := key.(types.String); !ok {
		return types.ValOrErr(key, "no such overload"), false
	}
	return nil, false
}

func (s stepUpVal) Get(key ref.Val) ref.Val {
	if v, ok := s.field(key); ok {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

func (s stepUpVal) Contains(key ref.Val) ref.Val {
	_, ok := s.field(key)
	return types.Bool(ok)
}

func (s stepUpVal) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, []string{"outcome", "status"}).Iterator()
}

func (s stepUpVal) Size() ref.Val { return types.Int(2) }

func (s stepUpVal) Type() ref.Type { return types.MapType }

func (s stepUpVal) Value() any { return s.native() }

func (s stepUpVal) native() map[string]string {
	return map[string]string{"status": s.Status, "outcome": s.Outcome}
}

func (s stepUpVal) ConvertToNative(t reflect.Type) (any, error) {
	return types.NewStringStringMap(types.DefaultTypeAdapter, s.native()).ConvertToNative(t)
}

func (s stepUpVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return s
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to %s", t)
}

func (s stepUpVal) Equal(other ref.Val) ref.Val {
	if o, ok := other.(stepUpVal); ok {
		return types.Bool(s == o)
	}
	if o, ok := other.(traits.Mapper); ok {
		return types.NewStringStringMap(types.DefaultTypeAdapter, s.native()).Equal(o)
	}
	return types.False
}

// String helps test failure messages.
func (s stepUpVal) String() string {
	return fmt.Sprintf("{status: %q, outcome: %q}", s.Status, s.Outcome)
}
