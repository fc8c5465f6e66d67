package profile

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schemas compiles the published contract (schema/*.schema.json).
func schemas(t *testing.T) (prof, assess *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const base = "https://github.com/riskwire/didit-risk/internal/profile/schema/" // their $id
	for _, name := range []string{"risk_profile.schema.json", "assessment.schema.json"} {
		f, err := os.Open(filepath.Join("schema", name))
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		require.NoError(t, err)
		require.NoError(t, c.AddResource(base+name, doc))
	}
	prof, err := c.Compile(base + "risk_profile.schema.json")
	require.NoError(t, err)
	assess, err = c.Compile(base + "assessment.schema.json")
	require.NoError(t, err)
	return prof, assess
}

// TestSchemaStatesTheUnverifiedRule: the schema itself refuses an unverified profile with a
// score and an assessed one without. (The documents the store writes are validated against it
// on the Firestore emulator, in the integration tests.)
func TestSchemaStatesTheUnverifiedRule(t *testing.T) {
	prof, _ := schemas(t)
	const common = `"schema_version":2,"user_id":"u","last_session_id":"","last_assessment_id":"","review_state":"none",
		"blocked":false,"sessions":{},"step_ups":{},"document_hashes":[],"device_hashes":null,"events_applied":1,
		"assessments_total":0,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z",
		"aggregates":{"declined_sessions":null,"documents":null,"devices":null,"highest_level":"","ever_blocked":false,
		"archive":{"sessions":0,"until":"0001-01-01T00:00:00Z","last_level":"","last_action":"","highest_level":"","ever_blocked":false}}`
	verdict := `,"score":0,"level":"low","action":"approve","reasons":[],"required_steps":null,"policy_version":"p"`
	tests := []struct {
		name string
		doc  string
		ok   bool
	}{
		{"unverified without verdict", `{"verdict_state":"unverified",` + common + `}`, true},
		{"unverified with a score", `{"verdict_state":"unverified",` + common + verdict + `}`, false},
		{"assessed with verdict", `{"verdict_state":"assessed",` + common + verdict + `}`, true},
		{"assessed without verdict", `{"verdict_state":"assessed",` + common + `}`, false},
		{"unknown field", `{"verdict_state":"unverified","extra":1,` + common + `}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.doc))
			require.NoError(t, err)
			err = prof.Validate(doc)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

// TestSchemasNameEveryField: the schemas' top-level properties are exactly the Firestore fields
// of Profile and Assessment, so a field added to either fails here until the contract says it.
func TestSchemasNameEveryField(t *testing.T) {
	for file, typ := range map[string]reflect.Type{
		"risk_profile.schema.json": reflect.TypeFor[Profile](), "assessment.schema.json": reflect.TypeFor[Assessment](),
	} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("schema", file))
			require.NoError(t, err)
			var s struct {
				Properties map[string]any `json:"properties"`
			}
			require.NoError(t, json.Unmarshal(b, &s))
			var fields []string
			for i := range typ.NumField() {
				name, _, _ := strings.Cut(typ.Field(i).Tag.Get("firestore"), ",")
				fields = append(fields, name)
			}
			assert.ElementsMatch(t, fields, slices.Collect(maps.Keys(s.Properties)))
		})
	}
}

// TestAssessmentSchemaNamesEveryHistoryField: the schema's history object lists exactly the
// Firestore fields of HistoryRecord, so the step-up part a replay needs cannot go unpublished.
func TestAssessmentSchemaNamesEveryHistoryField(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("schema", "assessment.schema.json"))
	require.NoError(t, err)
	var s struct {
		Properties struct {
			History struct {
				Properties map[string]any `json:"properties"`
			} `json:"history"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(b, &s))
	typ := reflect.TypeFor[HistoryRecord]()
	var fields []string
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("firestore"), ",")
		fields = append(fields, name)
	}
	assert.Contains(t, fields, "step_ups")
	assert.ElementsMatch(t, fields, slices.Collect(maps.Keys(s.Properties.History.Properties)))
}
