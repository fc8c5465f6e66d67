package scoring

import (
	"reflect"
	"slices"
	"strings"
	"sync"
)

// fieldInfo is a Signals field with its storage name and owning feature.
type fieldInfo struct {
	index   int
	name    string // firestore/json/CEL name
	feature string // a feature key, "session", "derived" or "-"
}

// signalFields lists the fields of Signals, read from its tags on first use.
var signalFields = sync.OnceValue(func() []fieldInfo {
	t := reflect.TypeFor[Signals]()
	out := make([]fieldInfo, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("firestore"), ",")
		out = append(out, fieldInfo{index: i, name: name, feature: f.Tag.Get("feature")})
	}
	return out
})

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
	for _, f := range signalFields() {
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
	for _, f := range signalFields() {
		fv := v.Field(f.index)
		if fv.Kind() == reflect.Slice && !fv.IsNil() {
			cp := reflect.MakeSlice(fv.Type(), fv.Len(), fv.Len())
			reflect.Copy(cp, fv)
			fv.Set(cp)
		}
	}
	return c
}
