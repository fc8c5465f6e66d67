package didit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/webhook"
	"github.com/riskwire/didit-risk/testdata"
)

const envelope = `"session_id":"s1","status":"Approved","webhook_type":"status.updated"`

// One key per event, whatever the spelling of its timestamp, from parsed values only.
func TestEventKeyFromParsedValues(t *testing.T) {
	key := func(t *testing.T, body string) string {
		t.Helper()
		w, err := DecodeWebhookStrict([]byte(body))
		require.NoError(t, err, body)
		return KeyOf(w)
	}
	groups := [][]string{
		{`{"timestamp":1767225607,` + envelope + `}`, `{"timestamp":1767225607.0,` + envelope + `}`,
			`{"timestamp":1.767225607e9,` + envelope + `}`, `{"timestamp":17672256070e-1,` + envelope + `}`,
			`{"timestamp":"1767225607",` + envelope + `}`},
		{`{"timestamp":null,` + envelope + `}`, `{` + envelope + `}`, `{"timestamp":0,` + envelope + `}`},
		{`{"timestamp":1767225608,` + envelope + `}`},
	}
	seen := map[string]int{}
	for g, bodies := range groups {
		want := key(t, bodies[0])
		assert.True(t, strings.HasPrefix(want, "derived-"))
		for _, b := range bodies[1:] {
			assert.Equal(t, want, key(t, b), b)
		}
		_, dup := seen[want]
		assert.False(t, dup, "group %d has its own key", g)
		seen[want] = g
	}
	assert.Equal(t, "e-1", key(t, `{"event_id":"e-1","timestamp":1,`+envelope+`}`))
	assert.Equal(t, EventKey("", "s1", "status.updated", "Approved", 0), EventKey("", "s1", "status.updated", "Approved", 0))
	assert.NotEqual(t, EventKey("", "s1", "status.updated", "Approved", 1), EventKey("", "s1", "status.updated", "Declined", 1))
}

func TestDecodeStrictRefuses(t *testing.T) {
	tests := []struct {
		name, body, reason string
	}{
		{"repeated top-level key", `{"status":"Declined",` + envelope + `}`, "duplicate_key"},
		{"prepended decision", `{"decision":{"status":"Approved"},"decision":{"status":"Declined"},` + envelope + `}`, "duplicate_key"},
		{"repeated nested key", `{"decision":{"id_verifications":[{"status":"Declined","status":"Approved"}]},` + envelope + `}`, "duplicate_key"},
		{"repeated key in metadata", `{"metadata":{"a":1,"a":2},` + envelope + `}`, "duplicate_key"},
		{"repeated escaped key", `{"st\u0061tus":"Declined",` + envelope + `}`, "duplicate_key"},
		{"upper-case variant", `{"STATUS":"Declined","session_id":"s1"}`, "key_case_variant"},
		{"mixed case variant", `{"Session_ID":"s2","status":"Approved"}`, "key_case_variant"},
		{"unicode fold variant", `{"ſtatus":"Declined","session_id":"s1"}`, "key_case_variant"},
		{"kelvin sign", `{"decision":{"liveness_checks":[{"score":10,"KIND":1,"ſcore":99}]},` + envelope + `}`, "key_case_variant"},
		{"nested case variant", `{"decision":{"Id_Verifications":[]},` + envelope + `}`, "key_case_variant"},
		{"lone surrogate value", `{"vendor_data":"u\ud800",` + envelope + `}`, "lone_surrogate"},
		{"lone surrogate key", `{"\udc00":1,` + envelope + `}`, "lone_surrogate"},
		{"raw encoded surrogate", "{\"vendor_data\":\"\xed\xa0\x80\"," + envelope + "}", "lone_surrogate"},
		{"invalid UTF-8", "{\"vendor_data\":\"\xff\"," + envelope + "}", "invalid_json"},
		{"fractional timestamp", `{"timestamp":1767225607.5,` + envelope + `}`, "number_range"},
		{"huge timestamp", `{"timestamp":1e300,` + envelope + `}`, "number_range"},
		{"timestamp beyond int64", `{"timestamp":123456789012345678901234567890,` + envelope + `}`, "number_range"},
		{"fractional string timestamp", `{"timestamp":"1.5",` + envelope + `}`, "number_range"},
		{"too deep", `{"metadata":` + strings.Repeat("[", webhook.MaxDepth) + strings.Repeat("]", webhook.MaxDepth) + `,` + envelope + `}`, "too_deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeStrict([]byte(tt.body))
			require.Error(t, err)
			assert.Equal(t, tt.reason, webhook.Reason(err))
			// Without the strict check, encoding/json reads such bodies without complaint (or
			// complains about something else): the check is what refuses them.
			_, lax := DecodeWebhook([]byte(tt.body))
			if tt.reason == "key_case_variant" || tt.reason == "duplicate_key" || tt.reason == "lone_surrogate" && !strings.Contains(tt.name, "raw") {
				assert.NoError(t, lax, "encoding/json accepts it")
			}
		})
	}
}

func TestDecodeStrictAccepts(t *testing.T) {
	for _, name := range []string{"full_v3.json", "approved_clean_v3.json", "v2_singular.json", "declined_v3.json", "in_progress.json"} {
		t.Run(name, func(t *testing.T) {
			body := testdata.Read(t, "webhooks/"+name)
			s, err := DecodeStrict(body)
			require.NoError(t, err)
			lax, err := DecodeWebhook(body)
			require.NoError(t, err)
			assert.Equal(t, lax, s.Webhook, "on Didit's own bodies strict and lax read the same")
			assert.False(t, s.Business)
		})
	}
	s, err := DecodeStrict([]byte("\xef\xbb\xbf{" + envelope + `,"metadata":{"STATUS":1,"status":2},"vendor_data":"u\ud83d\ude00"}`))
	require.NoError(t, err, "a BOM, arbitrary metadata keys and a surrogate pair are fine")
	assert.Equal(t, "u\U0001F600", s.VendorData)
}

func TestDecodeStrictShapes(t *testing.T) {
	s, err := DecodeStrict([]byte(`{"session_id":"s1","status":"Approved","timestamp":5}`))
	require.NoError(t, err)
	assert.True(t, s.Untyped)
	assert.Equal(t, TypeStatusUpdated, s.WebhookType, "the older shape is a status update")

	s, err = DecodeStrict([]byte(`{"webhook_type":"user.status.updated","user_id":"x"}`))
	require.NoError(t, err)
	assert.False(t, s.Untyped)
	assert.Equal(t, "user.status.updated", s.WebhookType)

	for _, body := range []string{
		`{"session_kind":"business",` + envelope + `}`,
		`{"business_session_id":"b1",` + envelope + `}`,
		`{"decision":{"session_kind":"business"},` + envelope + `}`,
	} {
		s, err := DecodeStrict([]byte(body))
		require.NoError(t, err)
		assert.True(t, s.Business, body)
	}
	_, err = DecodeStrict([]byte(`{"Session_Kind":"user",` + envelope + `}`))
	assert.Equal(t, "key_case_variant", webhook.Reason(err), "the KYB markers are exact keys too")
}

// FuzzDecodeStrict: no body makes it panic, and what it accepts the lax decoder reads the same.
func FuzzDecodeStrict(f *testing.F) {
	for _, name := range []string{"full_v3.json", "v2_singular.json", "in_progress.json"} {
		f.Add(testdata.Read(f, "webhooks/"+name))
	}
	f.Add([]byte(`{"status":"A","STATUS":"B","timestamp":1.5e9}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := DecodeStrict(body)
		if err != nil {
			return
		}
		lax, err := DecodeWebhook(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
		require.NoError(t, err)
		if s.Untyped && lax.SessionID != "" {
			lax.WebhookType = TypeStatusUpdated
		}
		assert.Equal(t, lax, s.Webhook)
	})
}
