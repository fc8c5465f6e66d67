package model

import (
	"fmt"
	"math"
	"strings"

	"github.com/riskwire/didit-risk/internal/didit"
)

// FeatureVersion names the feature vector below. Bump it on any change to the table (a feature
// added, removed, reordered, or a transform changed): a model trained on another version is
// refused at load, since its trees index features by position.
const FeatureVersion = 1

// Feature is one column of the vector: where it comes from in a stored assessment and how it
// becomes a number.
type Feature struct {
	Name      string
	Sources   []string // "signals.<field>" or "history.<field>", as stored in Firestore
	Transform Transform
	Doc       string
}

// Transform turns a feature's source values (in Sources order) into a number.
type Transform struct {
	Name string // for the doc table
	Doc  string
	fn   func(vals []any) (float64, error)
}

// features is the vector, in order. Field names are those of the stored assessment's signals
// and history maps (internal/scoring.Signals, internal/profile.HistoryRecord).
//
// Left out on purpose: signals.didit_status (a label source, see Label), the rules' own outputs
// (score, action), age and countries (a model should not learn to judge people by age group or
// nationality), and hashes.
var features = []Feature{
	{"liveness_score", src("signals.liveness_score"), number, "lowest liveness score 0–100; -1 unknown"},
	{"face_match_score", src("signals.face_match_score"), number, "lowest 1:1 face similarity 0–100; -1 unknown"},
	{"face_quality", src("signals.face_quality"), number, "lowest passive face quality 0–100; -1 unknown"},
	{"age_gap", src("signals.age_gap"), number, "|age estimated from the face − age on the document|; -1 unknown"},
	{"document_expired", src("signals.document_expired"), boolean, "the document had expired"},
	{"duplicate_user_matches", src("signals.duplicate_user_matches"), number, "ID matches belonging to another user"},
	{"duplicate_face_matches", src("signals.duplicate_face_matches"), number, "face matches belonging to another user"},
	{"nfc_verified", src("signals.nfc_verified"), boolean, "an NFC chip was read and verified"},
	{"nfc_skipped", src("signals.nfc_skipped"), boolean, "the NFC read was skipped"},
	{"phone_disposable", src("signals.phone_disposable"), boolean, "disposable phone number"},
	{"phone_voip", src("signals.phone_voip"), boolean, "VoIP or virtual phone number"},
	{"email_breached", src("signals.email_breached"), boolean, "email address found in breaches"},
	{"email_disposable", src("signals.email_disposable"), boolean, "disposable email address"},
	{"aml_hits", src("signals.aml_hits"), number, "AML hits not marked false positive"},
	{"aml_max_score", src("signals.aml_max_score"), number, "highest AML screening score 0–100; -1 unknown"},
	{"aml_pep", src("signals.aml_pep"), boolean, "a PEP match"},
	{"aml_sanction", src("signals.aml_sanction"), boolean, "a sanctions match"},
	{"ip_vpn_or_tor", src("signals.ip_vpn_or_tor"), boolean, "seen through a VPN, proxy or Tor"},
	{"ip_data_center", src("signals.ip_data_center"), boolean, "seen from a data centre"},
	{"ip_country_mismatch", src("signals.ip_country_mismatch"), boolean, "an IP country differs from the document's"},
	{"risk_errors", src("signals.risk_errors"), count, "number of distinct Didit risk codes with log_type error"},
	{"db_validation_match", src("signals.db_validation_match"), dbMatch, "database validation result"},
	{"sessions_24h", src("history.sessions_24h"), number, "the user's sessions in the last 24 h, this one included"},
	{"prior_declined_sessions", src("history.declined_sessions", "signals.didit_status"), priorDeclined,
		"the user's declined sessions, this one excluded"},
	{"distinct_documents", src("history.distinct_documents"), number, "distinct documents seen for the user"},
	{"distinct_devices", src("history.distinct_devices"), number, "distinct devices seen for the user"},
	{"previous_level", src("history.previous_level"), level, "the level of the user's previous verdict"},
}

func src(s ...string) []string { return s }

// Features returns the feature table, in vector order.
func Features() []Feature { return append([]Feature(nil), features...) }

// FeatureNames returns the names of the vector's columns, in order.
func FeatureNames() []string {
	names := make([]string, len(features))
	for i, f := range features {
		names[i] = f.Name
	}
	return names
}

var (
	number = Transform{Name: "number", Doc: "the number as is (int64 or float64)", fn: func(v []any) (float64, error) {
		return toNumber(v[0])
	}}
	boolean = Transform{Name: "bool", Doc: "true → 1, false → 0", fn: func(v []any) (float64, error) {
		b, ok := v[0].(bool)
		if !ok {
			return 0, fmt.Errorf("want bool, got %T", v[0])
		}
		if b {
			return 1, nil
		}
		return 0, nil
	}}
	count = Transform{Name: "count", Doc: "length of the list (absent or null → 0)", fn: func(v []any) (float64, error) {
		switch l := v[0].(type) {
		case nil:
			return 0, nil
		case []any:
			return float64(len(l)), nil
		case []string:
			return float64(len(l)), nil
		}
		return 0, fmt.Errorf("want list, got %T", v[0])
	}}
	dbMatch = ordinal("", "full_match", "partial_match", "no_match")
	level   = ordinal("", "low", "medium", "high", "critical")
	// The stored history counts the assessed session itself when Didit declined it; that is the
	// label, not a fact known before it, so the feature takes it out.
	priorDeclined = Transform{Name: "prior_declined", Doc: "declined_sessions − 1 when didit_status is Declined, else declined_sessions",
		fn: func(v []any) (float64, error) {
			n, err := toNumber(v[0])
			if err != nil {
				return 0, err
			}
			st, ok := v[1].(string)
			if !ok {
				return 0, fmt.Errorf("didit_status: want string, got %T", v[1])
			}
			if st == string(didit.StatusDeclined) {
				n--
			}
			return math.Max(n, 0), nil
		}}
)

// ordinal maps each listed string to its position; any other value is an error, so that a
// new value is noticed rather than silently scored as the first one.
func ordinal(values ...string) Transform {
	var doc []string
	for i, v := range values {
		if v == "" {
			v = `""`
		}
		doc = append(doc, fmt.Sprintf("%s → %d", v, i))
	}
	return Transform{Name: "ordinal", Doc: strings.Join(doc, ", "), fn: func(v []any) (float64, error) {
		s, ok := v[0].(string)
		if !ok {
			return 0, fmt.Errorf("want string, got %T", v[0])
		}
		for i, x := range values {
			if strings.EqualFold(s, x) {
				return float64(i), nil
			}
		}
		return 0, fmt.Errorf("unknown value %q", s)
	}}
}

func toNumber(v any) (float64, error) {
	switch n := v.(type) {
	case int64:
		return float64(n), nil
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, fmt.Errorf("not a finite number: %v", n)
		}
		return n, nil
	case int:
		return float64(n), nil
	case int32:
		return float64(n), nil
	case float32:
		return toNumber(float64(n))
	}
	return 0, fmt.Errorf("want number, got %T", v)
}

// Lookup returns the value stored at a source path ("signals.liveness_score"), and whether it
// is there.
type Lookup func(source string) (any, bool)

// FeaturesFrom builds the vector from any source of stored values. A missing value or one of
// the wrong type is an error naming the feature: a model must never score a vector made up of
// defaults it was not trained on.
func FeaturesFrom(get Lookup) ([]float64, error) {
	out := make([]float64, len(features))
	var vals [2]any
	for i, f := range features {
		for j, s := range f.Sources {
			v, ok := get(s)
			if !ok {
				return nil, fmt.Errorf("feature %s: %s is missing", f.Name, s)
			}
			vals[j] = v
		}
		x, err := f.Transform.fn(vals[:len(f.Sources)])
		if err != nil {
			return nil, fmt.Errorf("feature %s from %s: %w", f.Name, strings.Join(f.Sources, ", "), err)
		}
		out[i] = x
	}
	return out, nil
}

// FeaturesFromMaps builds the vector from an assessment's signals and history maps as Firestore
// decodes them (int64, float64, bool, string, []any).
func FeaturesFromMaps(signals, history map[string]any) ([]float64, error) {
	return FeaturesFrom(func(s string) (any, bool) {
		switch {
		case strings.HasPrefix(s, "signals."):
			v, ok := signals[s[len("signals."):]]
			return v, ok
		case strings.HasPrefix(s, "history."):
			v, ok := history[s[len("history."):]]
			return v, ok
		}
		return nil, false
	})
}

// FeatureDoc returns the feature table in Markdown, as FEATURES.md holds it.
func FeatureDoc() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Model features, version %d\n\n", FeatureVersion)
	b.WriteString("Generated from internal/model/features.go by `go test ./internal/model -run TestFeatureDoc -update`; do not edit.\n")
	b.WriteString("Sources are fields of a stored assessment's `signals` and `history` maps. A missing source or a value of\n")
	b.WriteString("the wrong type is an error, never a default.\n\n")
	b.WriteString("| # | feature | source | transform | meaning |\n| --- | --- | --- | --- | --- |\n")
	for i, f := range features {
		cell := strings.NewReplacer("|", `\|`).Replace
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s: %s | %s |\n", i, f.Name, "`"+strings.Join(f.Sources, "`, `")+"`",
			f.Transform.Name, cell(f.Transform.Doc), cell(f.Doc))
	}
	return b.String()
}
