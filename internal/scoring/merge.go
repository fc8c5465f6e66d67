package scoring

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// fieldInfo is a Signals field with its storage name and owning feature.
type fieldInfo struct {
	index   int
	name    string // firestore/json/CEL name
	feature string // a feature key, "session", "derived" or "-"
}

var signalFields = func() []fieldInfo {
	t := reflect.TypeFor[Signals]()
	out := make([]fieldInfo, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("firestore"), ",")
		out = append(out, fieldInfo{index: i, name: name, feature: f.Tag.Get("feature")})
	}
	return out
}()

// Merge lays the signals of a step-up session (overlay) over those of the user's last primary
// session (base). For every feature present in overlay, all of that feature's fields and
// warnings come from overlay; every other feature keeps base's. The session fields
// (didit_status, webhook_type) follow overlay, the step-up being the event scored, and
// features_present is the union. Derived fields are then recomputed, so an approved NFC
// step-up replaces the old NFC codes while the ID codes of the primary session still count.
func Merge(base, overlay Signals) Signals {
	out := base.Clone()
	ov := overlay.Clone()
	dst, src := reflect.ValueOf(&out).Elem(), reflect.ValueOf(&ov).Elem()
	for _, f := range signalFields {
		switch f.feature {
		case "-", "derived":
		case "session":
			dst.Field(f.index).Set(src.Field(f.index))
		default:
			if ov.Has(f.feature) {
				dst.Field(f.index).Set(src.Field(f.index))
			}
		}
	}
	out.Warnings = slices.DeleteFunc(out.Warnings, func(w WarningSignal) bool { return ov.Has(w.Feature) })
	out.Warnings = append(out.Warnings, ov.Warnings...)
	out.FeaturesPresent = append(out.FeaturesPresent, ov.FeaturesPresent...)
	out.derive()
	return out
}

// Clone returns a deep copy (Signals holds slices).
func (s Signals) Clone() Signals {
	c := s
	v := reflect.ValueOf(&c).Elem()
	for _, f := range signalFields {
		fv := v.Field(f.index)
		if fv.Kind() == reflect.Slice && !fv.IsNil() {
			cp := reflect.MakeSlice(fv.Type(), fv.Len(), fv.Len())
			reflect.Copy(cp, fv)
			fv.Set(cp)
		}
	}
	return c
}

// Map returns the signals as a map keyed by their storage names, for callers that keep
// signals in a free-form Firestore field. SignalsFromMap reads it back.
func (s Signals) Map() map[string]any {
	v := reflect.ValueOf(s)
	m := make(map[string]any, len(signalFields))
	for _, f := range signalFields {
		fv := v.Field(f.index)
		switch x := fv.Interface().(type) {
		case []WarningSignal:
			ws := make([]any, len(x))
			for i, w := range x {
				ws[i] = map[string]any{"feature": w.Feature, "risk": w.Risk, "log_type": w.LogType}
			}
			m[f.name] = ws
		case []string:
			m[f.name] = slices.Clone(x)
		default:
			m[f.name] = x
		}
	}
	return m
}

// SignalsFromMap reads signals stored with Map (or read back from Firestore, which returns
// int64, float64 and []any). Missing keys keep their defaults (-1 for unknown numbers); values
// of the wrong type are reported, and the rest is still read.
func SignalsFromMap(m map[string]any) (Signals, error) {
	s := emptySignals()
	v := reflect.ValueOf(&s).Elem()
	var bad []string
	for _, f := range signalFields {
		raw, ok := m[f.name]
		if !ok || raw == nil {
			continue
		}
		if !setField(v.Field(f.index), raw) {
			bad = append(bad, fmt.Sprintf("%s (%T)", f.name, raw))
		}
	}
	s.derive()
	if len(bad) > 0 {
		return s, fmt.Errorf("signals: wrong type for %s", strings.Join(bad, ", "))
	}
	return s, nil
}

func setField(fv reflect.Value, raw any) bool {
	switch fv.Kind() {
	case reflect.String:
		x, ok := raw.(string)
		fv.SetString(x)
		return ok
	case reflect.Bool:
		x, ok := raw.(bool)
		fv.SetBool(x)
		return ok
	case reflect.Int, reflect.Int64:
		switch x := raw.(type) {
		case int64:
			fv.SetInt(x)
		case int:
			fv.SetInt(int64(x))
		case float64:
			fv.SetInt(int64(x))
		default:
			return false
		}
		return true
	case reflect.Float64:
		switch x := raw.(type) {
		case float64:
			fv.SetFloat(x)
		case int64:
			fv.SetFloat(float64(x))
		case int:
			fv.SetFloat(float64(x))
		default:
			return false
		}
		return true
	case reflect.Slice:
		if fv.Type().Elem().Kind() == reflect.String {
			out, ok := stringSlice(raw)
			fv.Set(reflect.ValueOf(out))
			return ok
		}
		ws, ok := warningSlice(raw)
		fv.Set(reflect.ValueOf(ws))
		return ok
	}
	return false
}

func stringSlice(raw any) ([]string, bool) {
	switch x := raw.(type) {
	case []string:
		return slices.Clone(x), true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return out, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func warningSlice(raw any) ([]WarningSignal, bool) {
	switch x := raw.(type) {
	case []WarningSignal:
		return slices.Clone(x), true
	case []any:
		out := make([]WarningSignal, 0, len(x))
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return out, false
			}
			w := WarningSignal{}
			w.Feature, _ = m["feature"].(string)
			w.Risk, _ = m["risk"].(string)
			w.LogType, _ = m["log_type"].(string)
			out = append(out, w)
		}
		return out, true
	}
	return nil, false
}
