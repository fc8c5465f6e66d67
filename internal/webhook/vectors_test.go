package webhook

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

// vector is one case of testdata/signatures/vectors.json, written by CPython.
type vector struct {
	Name         string `json:"name"`
	Body         string `json:"body"`
	Canonical    string `json:"canonical"`
	Secret       string `json:"secret"`
	SignatureV2  string `json:"signature_v2"`
	SignatureRaw string `json:"signature_raw"`
	Error        string `json:"error"`
}

func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	data := testdata.Read(tb, "signatures/vectors.json")
	var vs []vector
	require.NoError(tb, json.Unmarshal(data, &vs))
	require.NotEmpty(tb, vs)
	return vs
}

func TestCanonicalizeVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			for name, canonicalize := range map[string]func(dst, body []byte) ([]byte, error){
				"Canonicalize": Canonicalize,
			} {
				prefix := []byte("prefix:")
				got, err := canonicalize(prefix, []byte(v.Body))
				if v.Error != "" {
					require.Error(t, err, name)
					assert.Equal(t, v.Error, Reason(err), "%s: error %v", name, err)
					assert.Equal(t, "prefix:", string(got), "%s: dst must come back unchanged", name)
					continue
				}
				require.NoError(t, err, name)
				assert.Equal(t, "prefix:"+v.Canonical, string(got), name)
			}
		})
	}
}

func TestVerifierAcceptsVectors(t *testing.T) {
	now := time.Unix(1767225607, 0)
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			ver, err := NewVerifier(Config{Secrets: [][]byte{[]byte("old-secret"), []byte(v.Secret)}, Now: func() time.Time { return now }})
			require.NoError(t, err)
			h := http.Header{}
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			h.Set(HeaderSignature, v.SignatureRaw)
			res, err := ver.Verify(h, []byte(v.Body))
			require.NoError(t, err)
			assert.Equal(t, SchemeRaw, res.Scheme)
			assert.Equal(t, 1, res.SecretIndex)

			if v.Error != "" {
				return
			}
			h.Del(HeaderSignature)
			h.Set(HeaderSignatureV2, v.SignatureV2)
			res, err = ver.Verify(h, []byte(v.Body))
			require.NoError(t, err)
			assert.Equal(t, SchemeV2, res.Scheme)
			assert.True(t, res.BodyAuthenticated)
		})
	}
}
