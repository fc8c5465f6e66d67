package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

var (
	testNow     = time.Unix(1767225607, 0)
	testSecret  = []byte("whsec_current_9f8e7d6c5b4a")
	otherSecret = []byte("whsec_retired_0a1b2c3d4e5f")
)

func fixedClock() time.Time { return testNow }

func newTestVerifier(t *testing.T, cfg Config) *Verifier {
	t.Helper()
	if cfg.Secrets == nil {
		cfg.Secrets = [][]byte{testSecret}
	}
	if cfg.Now == nil {
		cfg.Now = fixedClock
	}
	v, err := NewVerifier(cfg)
	require.NoError(t, err)
	return v
}

// signed returns the headers Didit would send for body at time ts.
func signed(t *testing.T, secret, body []byte, ts time.Time) http.Header {
	t.Helper()
	canon, err := Canonicalize(nil, body)
	require.NoError(t, err)
	fields, err := extractSimple(body)
	require.NoError(t, err)
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign(secret, body))
	h.Set(HeaderSignatureV2, Sign(secret, canon))
	h.Set(HeaderSignatureSimple, Sign(secret, []byte(SimpleMessage(fields.Timestamp, fields.SessionID, fields.Status, fields.WebhookType))))
	return h
}

func TestSignAndSimpleMessage(t *testing.T) {
	// Reference values from Python: hmac.new(b"key", msg, hashlib.sha256).hexdigest()
	assert.Equal(t, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
		Sign([]byte("key"), []byte("The quick brown fox jumps over the lazy dog")))
	assert.Equal(t, "1767225607:sid-1:Approved:status.updated",
		SimpleMessage("1767225607", "sid-1", "Approved", "status.updated"))
	assert.Equal(t, ":::", SimpleMessage("", "", "", ""))
}

func TestNewVerifier(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no secrets", Config{}, "no secrets"},
		{"empty secret", Config{Secrets: [][]byte{testSecret, {}}}, "secret 1 is empty"},
		{"negative tolerance", Config{Secrets: [][]byte{testSecret}, Tolerance: -time.Second}, "negative"},
		{"defaults", Config{Secrets: [][]byte{testSecret}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, v)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, DefaultTolerance, v.tolerance)
			assert.False(t, v.allowSimple)
			assert.WithinDuration(t, time.Now(), v.now(), time.Minute)
		})
	}

	t.Run("secrets are copied", func(t *testing.T) {
		secret := []byte("mutable-secret")
		v, err := NewVerifier(Config{Secrets: [][]byte{secret}, Now: fixedClock})
		require.NoError(t, err)
		body := []byte(`{"a":1}`)
		h := signed(t, secret, body, testNow)
		secret[0] = 'X'
		_, err = v.Verify(h, body)
		require.NoError(t, err)
	})
}

func TestVerifyAccepts(t *testing.T) {
	full := testdata.Read(t, "webhooks/full_v3.json")
	clean := testdata.Read(t, "webhooks/approved_clean_v3.json")
	var obj any
	require.NoError(t, json.Unmarshal(full, &obj))
	reencoded, err := json.MarshalIndent(obj, "", "  ") // a proxy that re-encodes: Go escapes <>&, reorders nothing
	require.NoError(t, err)

	tests := []struct {
		name       string
		cfg        Config
		body       []byte
		headers    func(h http.Header)
		wantScheme Scheme
		wantIndex  int
	}{
		{"raw", Config{}, full, nil, SchemeRaw, 0},
		{"raw preferred over v2", Config{}, clean, nil, SchemeRaw, 0},
		{"v2 when raw is wrong", Config{}, full, func(h http.Header) {
			h.Set(HeaderSignature, strings.Repeat("0", 64))
		}, SchemeV2, 0},
		{"v2 when raw is absent", Config{}, full, func(h http.Header) { h.Del(HeaderSignature) }, SchemeV2, 0},
		{"uppercase hex raw", Config{}, full, func(h http.Header) {
			h.Set(HeaderSignature, strings.ToUpper(h.Get(HeaderSignature)))
		}, SchemeRaw, 0},
		{"uppercase hex v2", Config{}, full, func(h http.Header) {
			h.Del(HeaderSignature)
			h.Set(HeaderSignatureV2, strings.ToUpper(h.Get(HeaderSignatureV2)))
		}, SchemeV2, 0},
		{"rotation: second secret", Config{Secrets: [][]byte{otherSecret, testSecret}}, full, nil, SchemeRaw, 1},
		{"rotation: second secret v2", Config{Secrets: [][]byte{otherSecret, testSecret}}, full, func(h http.Header) {
			h.Del(HeaderSignature)
		}, SchemeV2, 1},
		{"timestamp at the old edge", Config{}, full, func(h http.Header) {
			h.Set(HeaderTimestamp, strconv.FormatInt(testNow.Unix()-300, 10))
		}, SchemeRaw, 0},
		{"timestamp at the future edge", Config{}, full, func(h http.Header) {
			h.Set(HeaderTimestamp, strconv.FormatInt(testNow.Unix()+300, 10))
		}, SchemeRaw, 0},
		{"custom tolerance", Config{Tolerance: time.Hour}, full, func(h http.Header) {
			h.Set(HeaderTimestamp, strconv.FormatInt(testNow.Unix()-3000, 10))
		}, SchemeRaw, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, tt.cfg)
			h := signed(t, testSecret, tt.body, testNow)
			if tt.headers != nil {
				tt.headers(h)
			}
			res, err := v.Verify(h, tt.body)
			require.NoError(t, err)
			assert.Equal(t, tt.wantScheme, res.Scheme)
			assert.Equal(t, tt.wantIndex, res.SecretIndex)
			assert.True(t, res.BodyAuthenticated)
			assert.Equal(t, SimpleFields{}, res.Simple)
			ts, _ := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
			assert.Equal(t, time.Unix(ts, 0), res.Timestamp)
		})
	}

	t.Run("re-encoded by a proxy", func(t *testing.T) {
		v := newTestVerifier(t, Config{})
		h := signed(t, testSecret, full, testNow) // signatures of the original body
		res, err := v.Verify(h, reencoded)
		require.NoError(t, err)
		assert.Equal(t, SchemeV2, res.Scheme)
	})
}

func TestVerifySimple(t *testing.T) {
	body := testdata.Read(t, "webhooks/in_progress.json")
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(testNow.Unix(), 10))
	h.Set(HeaderSignatureSimple, Sign(testSecret,
		[]byte("1767224012:4b3a2918-9999-4c7d-8e6f-000000000555:In Progress:status.updated")))

	t.Run("disabled by default", func(t *testing.T) {
		_, err := newTestVerifier(t, Config{}).Verify(h, body)
		require.ErrorIs(t, err, ErrSimpleNotAllowed)
		assert.Equal(t, "simple_not_allowed", Reason(err))
	})
	t.Run("enabled: accepted and flagged", func(t *testing.T) {
		res, err := newTestVerifier(t, Config{AllowSimple: true}).Verify(h, body)
		require.NoError(t, err)
		assert.Equal(t, SchemeSimple, res.Scheme)
		assert.False(t, res.BodyAuthenticated, "the decision is not covered by the simple signature")
		assert.Equal(t, SimpleFields{
			Timestamp:   "1767224012",
			SessionID:   "4b3a2918-9999-4c7d-8e6f-000000000555",
			Status:      "In Progress",
			WebhookType: "status.updated",
		}, res.Simple)
	})
	t.Run("enabled: a tampered status fails", func(t *testing.T) {
		tampered := bytes.Replace(body, []byte(`"In Progress"`), []byte(`"Approved"`), 1)
		_, err := newTestVerifier(t, Config{AllowSimple: true}).Verify(h, tampered)
		require.ErrorIs(t, err, ErrSignatureMismatch)
	})
	t.Run("enabled: the unsigned decision may change", func(t *testing.T) {
		tampered := bytes.Replace(body, []byte(`"user-555"`), []byte(`"user-666"`), 1)
		res, err := newTestVerifier(t, Config{AllowSimple: true}).Verify(h, tampered)
		require.NoError(t, err)
		assert.False(t, res.BodyAuthenticated)
	})
}

func TestExtractSimple(t *testing.T) {
	tests := []struct {
		name string
		body string
		want SimpleFields
	}{
		{"all", `{"timestamp":1,"session_id":"s","status":"Approved","webhook_type":"status.updated"}`,
			SimpleFields{"1", "s", "Approved", "status.updated"}},
		{"absent and null are empty", `{"status":null,"other":{"timestamp":5}}`, SimpleFields{}},
		{"escaped strings are decoded", `{"status":"In\u0020Review","session_id":"caf\u00e9"}`,
			SimpleFields{Status: "In Review", SessionID: "café"}},
		{"last duplicate wins, as in Python", `{"status":"Declined","status":"Approved"}`,
			SimpleFields{Status: "Approved"}},
		{"keys are case-sensitive", `{"Status":"Approved","STATUS":"x"}`, SimpleFields{}},
		{"numbers as written", `{"timestamp":1767225607.0}`, SimpleFields{Timestamp: "1767225607.0"}},
		{"string timestamp", `{"timestamp":"1767225607"}`, SimpleFields{Timestamp: "1767225607"}},
		{"containers are empty", `{"status":[1],"webhook_type":{"a":1}}`, SimpleFields{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractSimple([]byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	for _, body := range []string{`[]`, `"x"`, `{`, ``} {
		_, err := extractSimple([]byte(body))
		assert.Error(t, err, body)
	}
}

func TestVerifyRefusals(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	tampered := bytes.Replace(body, []byte(`"user-4242"`), []byte(`"user-4243"`), 1)
	require.NotEqual(t, body, tampered)
	reindented := func() []byte {
		var buf bytes.Buffer
		require.NoError(t, json.Indent(&buf, tampered, "", "\t"))
		return buf.Bytes()
	}()
	ts := func(d time.Duration) string { return strconv.FormatInt(testNow.Add(d).Unix(), 10) }

	tests := []struct {
		name       string
		cfg        Config
		body       []byte
		headers    func(h http.Header)
		wantErr    error
		wantReason string
	}{
		{"timestamp missing", Config{}, body, func(h http.Header) { h.Del(HeaderTimestamp) },
			ErrTimestampMissing, "timestamp_missing"},
		{"timestamp not a number", Config{}, body, func(h http.Header) { h.Set(HeaderTimestamp, "yesterday") },
			ErrTimestampMalformed, "timestamp_malformed"},
		{"timestamp negative", Config{}, body, func(h http.Header) { h.Set(HeaderTimestamp, "-1767225607") },
			ErrTimestampMalformed, "timestamp_malformed"},
		{"timestamp fractional", Config{}, body, func(h http.Header) { h.Set(HeaderTimestamp, "1767225607.5") },
			ErrTimestampMalformed, "timestamp_malformed"},
		{"timestamp in milliseconds overflows the window", Config{}, body, func(h http.Header) {
			h.Set(HeaderTimestamp, strconv.FormatInt(testNow.UnixMilli(), 10))
		}, ErrTimestampFuture, "timestamp_future"},
		{"timestamp absurdly long", Config{}, body, func(h http.Header) { h.Set(HeaderTimestamp, strings.Repeat("9", 40)) },
			ErrTimestampMalformed, "timestamp_malformed"},
		{"timestamp with plus sign", Config{}, body, func(h http.Header) { h.Set(HeaderTimestamp, "+"+ts(0)) },
			ErrTimestampMalformed, "timestamp_malformed"},
		{"timestamp too old", Config{}, body, func(h http.Header) { h.Set(HeaderTimestamp, ts(-301*time.Second)) },
			ErrTimestampStale, "timestamp_stale"},
		{"timestamp too far in the future", Config{}, body, func(h http.Header) { h.Set(HeaderTimestamp, ts(301*time.Second)) },
			ErrTimestampFuture, "timestamp_future"},
		{"timestamp checked before signatures", Config{}, body, func(h http.Header) {
			h.Set(HeaderTimestamp, ts(-time.Hour))
			h.Del(HeaderSignature)
			h.Del(HeaderSignatureV2)
		}, ErrTimestampStale, "timestamp_stale"},
		{"no signature headers", Config{}, body, func(h http.Header) {
			h.Del(HeaderSignature)
			h.Del(HeaderSignatureV2)
			h.Del(HeaderSignatureSimple)
		}, ErrNoSignature, "no_signature"},
		{"wrong raw signature", Config{}, body, func(h http.Header) {
			h.Set(HeaderSignature, Sign(otherSecret, body))
			h.Del(HeaderSignatureV2)
		}, ErrSignatureMismatch, "signature_mismatch"},
		{"wrong v2 signature", Config{}, body, func(h http.Header) {
			h.Del(HeaderSignature)
			h.Set(HeaderSignatureV2, Sign(otherSecret, body))
		}, ErrSignatureMismatch, "signature_mismatch"},
		{"wrong simple signature", Config{AllowSimple: true}, body, func(h http.Header) {
			h.Del(HeaderSignature)
			h.Del(HeaderSignatureV2)
			h.Set(HeaderSignatureSimple, Sign(otherSecret, []byte("1767225607:x:Approved:status.updated")))
		}, ErrSignatureMismatch, "signature_mismatch"},
		{"all three wrong", Config{AllowSimple: true}, body, func(h http.Header) {
			for _, k := range []string{HeaderSignature, HeaderSignatureV2, HeaderSignatureSimple} {
				h.Set(k, strings.Repeat("ab", 32))
			}
		}, ErrSignatureMismatch, "signature_mismatch"},
		{"simple only, simple disabled", Config{}, body, func(h http.Header) {
			h.Del(HeaderSignature)
			h.Del(HeaderSignatureV2)
		}, ErrSimpleNotAllowed, "simple_not_allowed"},
		{"valid simple ignored when disabled", Config{}, body, func(h http.Header) {
			h.Set(HeaderSignature, strings.Repeat("0", 64))
			h.Del(HeaderSignatureV2)
		}, ErrSignatureMismatch, "signature_mismatch"},
		{"retired secret no longer configured", Config{Secrets: [][]byte{otherSecret}}, body, nil,
			ErrSignatureMismatch, "signature_mismatch"},
		{"tampered body, raw", Config{}, tampered, func(h http.Header) { h.Del(HeaderSignatureV2) },
			ErrSignatureMismatch, "signature_mismatch"},
		{"tampered body, v2", Config{}, tampered, func(h http.Header) { h.Del(HeaderSignature) },
			ErrSignatureMismatch, "signature_mismatch"},
		{"tampered and re-indented body, both", Config{}, reindented, nil, ErrSignatureMismatch, "signature_mismatch"},
		{"truncated body", Config{}, body[:len(body)-1], nil, ErrSignatureMismatch, "signature_mismatch"},
		{"signature too short", Config{}, body, func(h http.Header) {
			h.Set(HeaderSignature, h.Get(HeaderSignature)[:63])
			h.Del(HeaderSignatureV2)
		}, ErrSignatureMismatch, "signature_mismatch"},
		{"signature not hex", Config{}, body, func(h http.Header) {
			h.Set(HeaderSignature, "zz"+h.Get(HeaderSignature)[2:])
			h.Del(HeaderSignatureV2)
		}, ErrSignatureMismatch, "signature_mismatch"},
		{"signature with prefix", Config{}, body, func(h http.Header) {
			h.Set(HeaderSignature, "sha256="+h.Get(HeaderSignature))
			h.Del(HeaderSignatureV2)
		}, ErrSignatureMismatch, "signature_mismatch"},
		{"signature of the canonical form in the raw header", Config{}, body, func(h http.Header) {
			h.Set(HeaderSignature, h.Get(HeaderSignatureV2))
			h.Del(HeaderSignatureV2)
		}, ErrSignatureMismatch, "signature_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, tt.cfg)
			h := signed(t, testSecret, body, testNow)
			if tt.headers != nil {
				tt.headers(h)
			}
			res, err := v.Verify(h, tt.body)
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.wantReason, Reason(err))
			assert.Equal(t, Result{}, res)
			// Error text is for logs: it must not carry secrets or signatures.
			msg := err.Error()
			assert.NotContains(t, msg, string(testSecret))
			assert.NotContains(t, msg, string(otherSecret))
			for _, k := range []string{HeaderSignature, HeaderSignatureV2, HeaderSignatureSimple} {
				if s := h.Get(k); len(s) > 8 {
					assert.NotContains(t, strings.ToLower(msg), strings.ToLower(s[2:18]))
				}
			}
		})
	}
}

func TestVerifyInvalidBodyForV2(t *testing.T) {
	body := []byte(`{"a":"\ud800"}`)
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(testNow.Unix(), 10))
	h.Set(HeaderSignatureV2, strings.Repeat("0", 64))
	_, err := newTestVerifier(t, Config{}).Verify(h, body)
	require.ErrorIs(t, err, ErrSignatureMismatch)
	assert.False(t, errors.Is(err, ErrLoneSurrogate), "the cause is detail, not the reason")
	assert.Contains(t, err.Error(), "unpaired surrogate") // but it is in the log line
}

func TestReason(t *testing.T) {
	assert.Equal(t, "", Reason(nil))
	assert.Equal(t, "", Reason(errors.New("other")))
	assert.Equal(t, "invalid_json", Reason(ErrInvalidJSON))
	assert.Equal(t, "timestamp_stale", ErrTimestampStale.Reason())
	assert.Equal(t, "webhook: no signature header", ErrNoSignature.Error())
}

// TestVerifyConcurrent exercises the pooled HMAC and canonicalisation state
// under the race detector.
func TestVerifyConcurrent(t *testing.T) {
	v := newTestVerifier(t, Config{Secrets: [][]byte{otherSecret, testSecret}})
	bodies := [][]byte{
		testdata.Read(t, "webhooks/full_v3.json"),
		testdata.Read(t, "webhooks/declined_v3.json"),
		testdata.Read(t, "webhooks/approved_clean_v3.json"),
		testdata.Read(t, "webhooks/v2_singular.json"),
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				body := bodies[(g+i)%len(bodies)]
				h := signed(t, testSecret, body, testNow)
				if i%2 == 0 {
					h.Del(HeaderSignature)
				}
				res, err := v.Verify(h, body)
				assert.NoError(t, err)
				assert.Equal(t, 1, res.SecretIndex)
			}
		})
	}
	wg.Wait()
}
