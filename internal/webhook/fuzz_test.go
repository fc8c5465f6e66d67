package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

// fuzzSeeds are the vector bodies and the webhook fixtures.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, v := range loadVectors(f) {
		seeds = append(seeds, []byte(v.Body))
	}
	for _, name := range testdata.Glob(f, "webhooks/*.json") {
		seeds = append(seeds, testdata.Read(f, name))
	}
	return seeds
}

// fuzzSchema has an integer, a struct, a map and a list, as the webhook payload does.
var fuzzSchema = NewSchema(reflect.TypeFor[struct {
	Status    string `json:"status"`
	Timestamp int64  `json:"timestamp"`
	Decision  *struct {
		Items []struct {
			Score float64 `json:"score"`
		} `json:"items"`
	} `json:"decision"`
	Metadata map[string]any `json:"metadata"`
}]())

func FuzzCanonicalize(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Canonicalize(nil, data)
		// The strict check parses with the same grammar: it fails on no body Canonicalize
		// accepts except for the shapes it exists to refuse.
		if serr := fuzzSchema.Check(data); err == nil && serr != nil {
			switch Reason(serr) {
			case "duplicate_key", "key_case_variant", "number_range":
			default:
				t.Fatalf("Check refuses a canonicalisable body: %v", serr)
			}
		}
		goValid := json.Valid(data)
		if err != nil {
			if goValid {
				// Go accepts what Python cannot encode or parse: lone surrogates
				// (Go substitutes U+FFFD), invalid UTF-8, Python's int digit limit,
				// and nesting beyond our bound.
				switch Reason(err) {
				case "lone_surrogate", "too_deep", "integer_too_long":
				case "invalid_json":
					require.False(t, utf8.Valid(data), "Go-valid UTF-8 JSON refused: %v", err)
				default:
					t.Fatalf("unexpected error for Go-valid JSON: %v", err)
				}
			}
			return
		}
		require.True(t, utf8.Valid(out), "canonical form is UTF-8")
		again, err := Canonicalize(nil, out)
		require.NoError(t, err, "canonical form must canonicalise")
		require.Equal(t, string(out), string(again), "idempotent")

		if !goValid {
			return
		}
		if !json.Valid(out) {
			// Only float overflow turns Go-valid JSON into Python's Infinity.
			require.True(t, hasOverflow(t, data), "output not valid JSON: %q", out)
			return
		}
		in, can := decodeNumbers(t, data), decodeNumbers(t, out)
		require.NoError(t, sameJSON(in, can))
	})
}

func decodeNumbers(t *testing.T, data []byte) any {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	require.NoError(t, d.Decode(&v))
	return v
}

func hasOverflow(t *testing.T, data []byte) bool {
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case json.Number:
			f, _ := strconv.ParseFloat(string(v), 64)
			return math.IsInf(f, 0)
		case []any:
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		case map[string]any:
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(decodeNumbers(t, data))
}

// sameJSON compares an input document with its canonical form: same structure
// and strings; integer literals kept exactly; other numbers equal as float64.
func sameJSON(in, out any) error {
	switch a := in.(type) {
	case map[string]any:
		b, ok := out.(map[string]any)
		if !ok || len(a) != len(b) {
			return fmt.Errorf("object %v became %v", a, out)
		}
		for k, v := range a {
			if err := sameJSON(v, b[k]); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
		}
	case []any:
		b, ok := out.([]any)
		if !ok || len(a) != len(b) {
			return fmt.Errorf("array %v became %v", a, out)
		}
		for i := range a {
			if err := sameJSON(a[i], b[i]); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case json.Number:
		b, ok := out.(json.Number)
		if !ok {
			return fmt.Errorf("number %v became %v", a, out)
		}
		if !strings.ContainsAny(string(a), ".eE") {
			if string(a) != string(b) && !(a == "-0" && b == "0") {
				return fmt.Errorf("integer %s became %s", a, b)
			}
			return nil
		}
		fa, _ := strconv.ParseFloat(string(a), 64)
		fb, _ := strconv.ParseFloat(string(b), 64)
		if fa != fb {
			return fmt.Errorf("float %s (%v) became %s (%v)", a, fa, b, fb)
		}
	default:
		if in != out {
			return fmt.Errorf("%#v became %#v", in, out)
		}
	}
	return nil
}

// FuzzVerify checks that Verify never panics on hostile headers and bodies,
// and that a body accepted under V2 stays accepted after the re-encodings a
// proxy might apply.
func FuzzVerify(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, uint8(i), "1767225607")
	}
	v, err := NewVerifier(Config{Secrets: [][]byte{otherSecret, testSecret}, Now: fixedClock, AllowSimple: true})
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, body []byte, mode uint8, junk string) {
		// Hostile headers: must not panic, must not accept.
		h := http.Header{}
		h.Set(HeaderTimestamp, junk)
		h.Set(HeaderSignature, junk)
		h.Set(HeaderSignatureV2, junk)
		h.Set(HeaderSignatureSimple, junk)
		if _, err := v.Verify(h, body); err == nil {
			t.Fatalf("accepted junk signature %q", junk)
		}

		canon, err := Canonicalize(nil, body)
		if err != nil {
			return
		}
		h = http.Header{}
		h.Set(HeaderTimestamp, "1767225607")
		h.Set(HeaderSignatureV2, Sign(testSecret, canon))
		res, err := v.Verify(h, body)
		require.NoError(t, err)
		require.Equal(t, SchemeV2, res.Scheme)

		if !json.Valid(body) {
			return // the re-encoders below speak Go's JSON
		}
		re := body
		if mode&1 != 0 {
			var buf bytes.Buffer
			require.NoError(t, json.Indent(&buf, re, strings.Repeat(" ", int(mode>>4)), "\t"))
			re = buf.Bytes()
		} else {
			var buf bytes.Buffer
			require.NoError(t, json.Compact(&buf, re))
			re = buf.Bytes()
		}
		if mode&2 != 0 {
			re = escapeNonASCII(re)
		}
		if mode&4 != 0 {
			re = append(append([]byte("\r\n "), re...), '\n')
		}
		res, err = v.Verify(h, re)
		assert.NoError(t, err, "re-encoded body %q", re)
		assert.Equal(t, SchemeV2, res.Scheme)
	})
}

// escapeNonASCII rewrites every non-ASCII character as \uXXXX (surrogate pairs
// above the BMP), as Python's ensure_ascii=True does. Non-ASCII bytes only
// occur inside strings in valid JSON.
func escapeNonASCII(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r < utf8.RuneSelf:
			out = append(out, b[0])
		case r > 0xFFFF:
			r -= 0x10000
			out = fmt.Appendf(out, `\u%04x\u%04X`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		b = b[size:]
	}
	return out
}

func TestEscapeNonASCII(t *testing.T) {
	assert.Equal(t, `"a\u00e9\ud83d\uDE00"`, string(escapeNonASCII([]byte(`"aé😀"`))))
}
