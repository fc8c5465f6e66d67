package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

var benchSecret = []byte("whsec_bench_0123456789abcdefghijklmnopq")

// benchRequest returns a verifier and headers for full_v3.json; when raw is
// false X-Signature is wrong, so V2 is the scheme that verifies.
func benchRequest(b *testing.B, raw bool) (*Verifier, http.Header, []byte) {
	body := testdata.Read(b, "webhooks/full_v3.json")
	now := time.Unix(1767225607, 0)
	v, err := NewVerifier(Config{Secrets: [][]byte{benchSecret}, Now: func() time.Time { return now }})
	require.NoError(b, err)
	canon, err := Canonicalize(nil, body)
	require.NoError(b, err)
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if raw {
		h.Set(HeaderSignature, Sign(benchSecret, body))
	} else {
		h.Set(HeaderSignature, Sign([]byte("stale-secret"), body))
	}
	h.Set(HeaderSignatureV2, Sign(benchSecret, canon))
	return v, h, body
}

// BenchmarkHMACBaseline is the floor: one HMAC-SHA256 of the body, hex encoded.
func BenchmarkHMACBaseline(b *testing.B) {
	body := testdata.Read(b, "webhooks/full_v3.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		m := hmac.New(sha256.New, benchSecret)
		m.Write(body)
		_ = hex.EncodeToString(m.Sum(nil))
	}
}

func BenchmarkVerifyRaw(b *testing.B) {
	v, h, body := benchRequest(b, true)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		res, err := v.Verify(h, body)
		if err != nil || res.Scheme != SchemeRaw {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkVerifyV2 includes the failed raw attempt that precedes V2.
func BenchmarkVerifyV2(b *testing.B) {
	v, h, body := benchRequest(b, false)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		res, err := v.Verify(h, body)
		if err != nil || res.Scheme != SchemeV2 {
			b.Fatal(res, err)
		}
	}
}

func BenchmarkCanonicalize(b *testing.B) {
	body := testdata.Read(b, "webhooks/full_v3.json")
	buf := make([]byte, 0, 2*len(body))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var err error
		if buf, err = Canonicalize(buf[:0], body); err != nil {
			b.Fatal(err)
		}
	}
}
