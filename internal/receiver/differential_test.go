package receiver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/testdata"
)

// pyValues is what testdata/webhooks/pyread.py reports json.loads reads: the values the
// scorer uses.
type pyValues struct {
	Error         string          `json:"error"`
	SessionID     *string         `json:"session_id"`
	Status        *string         `json:"status"`
	WebhookType   *string         `json:"webhook_type"`
	VendorData    *string         `json:"vendor_data"`
	EventID       *string         `json:"event_id"`
	Timestamp     json.RawMessage `json:"timestamp"`
	IDStatuses    []*string       `json:"id_statuses"`
	WarningRisks  []*string       `json:"warning_risks"`
	LivenessScore json.RawMessage `json:"liveness_score"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// pyRead runs Python's json.loads over every body, in one process.
func pyRead(t *testing.T, bodies [][]byte) []pyValues {
	t.Helper()
	py, err := exec.LookPath("python3")
	require.NoError(t, err, "the differential test needs python3 (json.loads is what Didit signs)")
	in := make([]string, len(bodies))
	for i, b := range bodies {
		in[i] = base64.StdEncoding.EncodeToString(b)
	}
	stdin, err := json.Marshal(in)
	require.NoError(t, err)
	cmd := exec.Command(py, testdata.Dir(t, "webhooks", "pyread.py"))
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var got []pyValues
	require.NoError(t, json.Unmarshal(out, &got))
	require.Len(t, got, len(bodies))
	return got
}

// number reads a Python number (or numeric string) as the scorer's lenient readers do; ok is
// false for null or absent.
func number(t *testing.T, raw json.RawMessage) (float64, bool) {
	t.Helper()
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, false
	}
	if strings.HasPrefix(s, `{"nonfinite"`) {
		return math.NaN(), true
	}
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, s)
	return f, true
}

// hostileBodies are the shapes an attacker holding one genuine body (or a proxy) can produce
// while a signature stays valid, or that make parsers disagree. Didit sends none of them.
func hostileBodies(t *testing.T) map[string][]byte {
	full := testdata.Read(t, "webhooks/full_v3.json")
	prepend := func(s string) []byte { return append([]byte("{"+s+","), full[1:]...) }
	insertAfter := func(anchor, s string) []byte {
		i := bytes.Index(full, []byte(anchor))
		require.GreaterOrEqual(t, i, 0, anchor)
		i += len(anchor)
		return append(append(append([]byte{}, full[:i]...), s...), full[i:]...)
	}
	deep := func(n int) []byte {
		return prepend(`"deep":` + strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	return map[string][]byte{
		"genuine":                     full,
		"pretty printed":              indent(t, full),
		"prepended decision":          prepend(`"decision":{"status":"Approved","id_verifications":[{"status":"Approved","warnings":[]}],"liveness_checks":[{"score":99}]}`),
		"repeated status":             prepend(`"status":"Approved"`),
		"repeated nested status":      insertAfter(`"id_verifications":[{`, `"status":"Approved",`),
		"repeated key in metadata":    insertAfter(`"metadata":{`, `"k":1,"k":2,`),
		"escaped duplicate key":       prepend(`"st\u0061tus":"Approved"`),
		"case variant STATUS":         prepend(`"STATUS":"Approved"`),
		"case variant Session_ID":     prepend(`"Session_ID":"other-session"`),
		"case variant TIMESTAMP":      prepend(`"TIMESTAMP":1`),
		"case variant nested":         insertAfter(`"id_verifications":[{`, `"Status":"Approved",`),
		"case variant warning risk":   insertAfter(`"warnings":[{`, `"RISK":"NONE",`),
		"unicode fold ſtatus":         prepend(`"ſtatus":"Approved"`),
		"kelvin fold in key":          prepend(`"\u212aey":1,"webhoo\u212a_type":"x"`),
		"lone surrogate value":        prepend(`"x":"\ud800"`),
		"lone surrogate vendor_data":  bytes.Replace(full, []byte(`"vendor_data":"user-4242"`), []byte(`"vendor_data":"user-4242\udc00"`), 1),
		"raw encoded surrogate":       prepend("\"x\":\"\xed\xa0\x80\""),
		"surrogate pair":              prepend(`"x":"\ud83d\ude00"`),
		"invalid UTF-8":               prepend("\"x\":\"\xff\xfe\""),
		"BOM":                         append([]byte("\xef\xbb\xbf"), full...),
		"huge integer score":          bytes.Replace(full, []byte(`"score":95.0`), []byte(`"score":123456789012345678901234567890`), 1),
		"overflowing float score":     bytes.Replace(full, []byte(`"score":95.0`), []byte(`"score":1e400`), 1),
		"NaN score":                   bytes.Replace(full, []byte(`"score":95.0`), []byte(`"score":NaN`), 1),
		"huge timestamp":              bytes.Replace(full, []byte(`"timestamp":1767225607`), []byte(`"timestamp":1e300`), 1),
		"timestamp beyond int64":      bytes.Replace(full, []byte(`"timestamp":1767225607`), []byte(`"timestamp":99999999999999999999999`), 1),
		"fractional timestamp":        bytes.Replace(full, []byte(`"timestamp":1767225607`), []byte(`"timestamp":1767225607.5`), 1),
		"timestamp in exponent form":  bytes.Replace(full, []byte(`"timestamp":1767225607`), []byte(`"timestamp":1.767225607e9`), 1),
		"timestamp as string":         bytes.Replace(full, []byte(`"timestamp":1767225607`), []byte(`"timestamp":"1767225607"`), 1),
		"deep nesting within limits":  deep(400),
		"nesting beyond the limit":    deep(1200),
		"NUL in vendor_data":          bytes.Replace(full, []byte(`"vendor_data":"user-4242"`), []byte(`"vendor_data":"user\u0000-4242"`), 1),
		"key with trailing space":     prepend(`"status ":"Approved"`),
		"escaped exact key":           bytes.Replace(full, []byte(`"vendor_data":`), []byte(`"vendor\u005fdata":`), 1),
		"unknown null field":          insertAfter(`"liveness_checks":[{`, `"extra":null,`),
		"trailing garbage":            append(append([]byte{}, full...), []byte(`{}`)...),
		"top-level array":             []byte(`[` + string(full) + `]`),
		"v2 singular beside v3 array": insertAfter(`"decision":{`, `"liveness":{"score":1,"warnings":[{"risk":"LOW_LIVENESS_SCORE"}]},`),
	}
}

func indent(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	require.NoError(t, jsonIndent(&out, b))
	return out.Bytes()
}

// TestDifferentialAgainstPython: for every hostile body, either the receiver refuses it, or
// what the scorer reads from the published message equals what Python's json.loads reads.
func TestDifferentialAgainstPython(t *testing.T) {
	cases := hostileBodies(t)
	names := make([]string, 0, len(cases))
	bodies := make([][]byte, 0, len(cases))
	for n, b := range cases {
		names = append(names, n)
		bodies = append(bodies, b)
	}
	py := pyRead(t, bodies)

	refused := 0
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			pub := &fakePublisher{}
			var logs bytes.Buffer
			h := newHandler(t, pub, &logs, false)
			h.MaxBodyBytes = 1 << 20
			code, got, log := serve(t, h, pub, &logs, signed(t, bodies[i], now))
			p := py[i]
			if code != http.StatusOK {
				assert.Equal(t, http.StatusBadRequest, code, log)
				assert.Empty(t, got, "refused, never published")
				refused++
				return
			}
			require.Empty(t, p.Error, "the receiver accepted a body json.loads refuses: %s", log)
			require.Len(t, got, 1)
			attrs := message.ParseWebhookAttrs(got[0].attrs)
			w, err := didit.DecodeWebhookStrict(got[0].data) // what the scorer reads
			if err != nil {
				assert.NotEqual(t, message.ClassSession, attrs.Class, "a body the scorer cannot read is never marked for scoring")
				return
			}
			assert.Equal(t, str(p.SessionID), w.SessionID, "session_id")
			assert.Equal(t, str(p.Status), string(w.Status), "status")
			assert.Equal(t, str(p.WebhookType), w.WebhookType, "webhook_type")
			assert.Equal(t, str(p.VendorData), w.VendorData, "vendor_data")
			assert.Equal(t, str(p.EventID), w.EventID, "event_id")
			ts, ok := number(t, p.Timestamp)
			if !ok {
				ts = 0
			}
			assert.Equal(t, ts, float64(w.Timestamp), "timestamp")
			assert.Equal(t, str(p.SessionID), attrs.SessionID, "the attributes agree too")
			assert.Equal(t, str(p.VendorData), attrs.VendorData)

			require.NotNil(t, w.Decision)
			var ids, risks []string
			for _, v := range w.Decision.IDVerifications {
				ids = append(ids, v.Status)
				for _, x := range v.Warnings {
					risks = append(risks, x.Risk)
				}
			}
			for _, l := range w.Decision.LivenessChecks {
				for _, x := range l.Warnings {
					risks = append(risks, x.Risk)
				}
			}
			pyIDs, pyRisks := make([]string, len(p.IDStatuses)), make([]string, len(p.WarningRisks))
			for k, s := range p.IDStatuses {
				pyIDs[k] = str(s)
			}
			for k, s := range p.WarningRisks {
				pyRisks[k] = str(s)
			}
			assert.Equal(t, pyIDs, ids, "id_verifications[].status")
			assert.Equal(t, pyRisks, risks, "warnings[].risk")
			score, ok := number(t, p.LivenessScore)
			if len(w.Decision.LivenessChecks) > 0 {
				if ok {
					assert.Equal(t, score, w.Decision.LivenessChecks[0].Score.Float(math.NaN()), "liveness score")
				} else {
					assert.Nil(t, w.Decision.LivenessChecks[0].Score)
				}
			}
		})
	}
	assert.Positive(t, refused, "the hostile shapes are refused")
}

// The shapes on which Go and Python disagree are refused outright, not just read alike.
func TestHostileShapesAreRefused(t *testing.T) {
	cases := hostileBodies(t)
	for _, name := range []string{
		"prepended decision", "repeated status", "repeated nested status", "repeated key in metadata",
		"escaped duplicate key", "case variant STATUS", "case variant Session_ID", "case variant TIMESTAMP",
		"case variant nested", "case variant warning risk", "unicode fold ſtatus", "kelvin fold in key",
		"lone surrogate value", "lone surrogate vendor_data", "raw encoded surrogate", "invalid UTF-8",
		"overflowing float score", "NaN score", "huge timestamp", "timestamp beyond int64",
		"fractional timestamp", "nesting beyond the limit", "trailing garbage", "top-level array",
	} {
		t.Run(name, func(t *testing.T) {
			body, ok := cases[name]
			require.True(t, ok)
			pub := &fakePublisher{}
			var logs bytes.Buffer
			h := newHandler(t, pub, &logs, false)
			h.MaxBodyBytes = 1 << 20
			code, got, log := serve(t, h, pub, &logs, signed(t, body, now))
			assert.Equal(t, http.StatusBadRequest, code, log)
			assert.Empty(t, got)
		})
	}
}
