package webhook

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

// Cases the JSON vectors cannot hold (raw bytes that are not UTF-8) or that
// pin down implementation limits. Expected values were checked with CPython 3.11.
func TestCanonicalizeBytes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    string
		wantErr error
	}{
		// json.loads(bytes) decodes with errors="surrogatepass": an encoded
		// surrogate loads, then fails in .encode("utf-8") only if it survives.
		{"raw encoded surrogate", "\"\xed\xa0\x80\"", "", ErrLoneSurrogate},
		{"raw encoded surrogate pair (CESU-8)", "\"\xed\xa0\xbd\xed\xb8\x80\"", "", ErrLoneSurrogate},
		{"raw surrogate in a replaced duplicate", "{\"a\":\"\xed\xa0\x80\",\"a\":2}", `{"a":2}`, nil},
		{"raw surrogate key", "{\"\xed\xb0\x80\":1}", "", ErrLoneSurrogate},
		{"utf-8 byte order mark", "\xef\xbb\xbf{\"a\":1.0}", `{"a":1}`, nil},
		{"byte order mark twice", "\xef\xbb\xbf\xef\xbb\xbf{}", "", ErrInvalidJSON},
		{"invalid utf-8", "\"\xff\"", "", ErrInvalidJSON},
		{"truncated utf-8", "\"\xc3\"", "", ErrInvalidJSON},
		{"overlong utf-8", "\"\xc0\xaf\"", "", ErrInvalidJSON},
		{"utf-16 body: refused, unlike Python which sniffs the encoding", "\xff\xfe{\x00}\x00", "", ErrInvalidJSON},
		{"escaped and raw surrogates never pair", "\"\xed\xa0\xbd\\ude00\"", "", ErrLoneSurrogate},
		{"distinct lone surrogate keys stay distinct", `{"\ud800":1,"\ud801":2,"a":"\ud800"}`, "", ErrLoneSurrogate},
		{"lone surrogate key equal to a replacement char is not a duplicate", `{"\ufffd":1,"\ud800":2}`, "", ErrLoneSurrogate},
		{"unterminated string", `"abc`, "", ErrInvalidJSON},
		{"unterminated escape", `"abc\`, "", ErrInvalidJSON},
		{"unterminated object", `{"a":1`, "", ErrInvalidJSON},
		{"unterminated array", `[1,2`, "", ErrInvalidJSON},
		{"missing colon", `{"a" 1}`, "", ErrInvalidJSON},
		{"non-string key", `{1:2}`, "", ErrInvalidJSON},
		{"only whitespace", " \n\t", "", ErrInvalidJSON},
		{"vertical tab is not whitespace", "\v{}", "", ErrInvalidJSON},
		{"nbsp is not whitespace", "\u00a0{}", "", ErrInvalidJSON},
		{"truncated literal", `[tru]`, "", ErrInvalidJSON},
		{"truncated -Infinity", `-Infinit`, "", ErrInvalidJSON},
		{"long string with a late escape", `"` + strings.Repeat("a", 100) + `\u00e9` + strings.Repeat("b", 100) + `"`,
			`"` + strings.Repeat("a", 100) + "é" + strings.Repeat("b", 100) + `"`, nil},
		{"long string with a late control char", `"` + strings.Repeat("a", 100) + "\x01" + `"`, "", ErrInvalidJSON},
		{"long string with late non-ASCII", `"` + strings.Repeat("a", 100) + "ü" + strings.Repeat("b", 50) + `"`,
			`"` + strings.Repeat("a", 100) + "ü" + strings.Repeat("b", 50) + `"`, nil},
		{"canonical copy keeps escaped quotes", `{"a":["x\"y",{"b":"\\"}]}`, `{"a":["x\"y",{"b":"\\"}]}`, nil},
		{"repr-like floats copied", `[0.5,-89.92,0.0001,123456789012345.6]`, `[0.5,-89.92,0.0001,123456789012345.6]`, nil},
		{"16 significant digits reformatted", `[0.1000000000000001,1234567890123456.5]`, `[0.1000000000000001,1234567890123456.5]`, nil},
		{"17 significant digits shortened", `[0.10000000000000001]`, `[0.1]`, nil},
		{"trailing zero reformatted", `[89.920]`, `[89.92]`, nil},
		{"spaced empty containers", `{ "a" : [ ] , "b" : { } }`, `{"a":[],"b":{}}`, nil},
		{"int 4300 digits kept", strings.Repeat("7", 4300), strings.Repeat("7", 4300), nil},
		{"negative int 4300 digits kept", "-" + strings.Repeat("7", 4300), "-" + strings.Repeat("7", 4300), nil},
		{"int 4301 digits refused", strings.Repeat("7", 4301), "", ErrIntegerTooLong},
		{"float with 5000 digits is fine", "0." + strings.Repeat("3", 5000), "0.3333333333333333", nil},
		{"huge exponent", `[1e99999999999999999999,1e-99999999999999999999]`, `[Infinity,0]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, canonicalize := range []func(dst, body []byte) ([]byte, error){Canonicalize} {
				got, err := canonicalize([]byte("x"), []byte(tt.body))
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					assert.Equal(t, "x", string(got))
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, "x"+tt.want, string(got))
			}
		})
	}
}

func TestCanonicalizeDepth(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat(`{"a":[`, n/2) + strings.Repeat(`]}`, n/2))
	}
	got, err := Canonicalize(nil, nest(MaxDepth))
	require.NoError(t, err)
	assert.Equal(t, string(nest(MaxDepth)), string(got))

	_, err = Canonicalize(nil, nest(MaxDepth+2))
	require.ErrorIs(t, err, ErrTooDeep)
	assert.Equal(t, "too_deep", Reason(err))
}

func TestCanonicalizeSize(t *testing.T) {
	big := make([]byte, MaxBodySize+1)
	_, err := Canonicalize(nil, big)
	require.ErrorIs(t, err, ErrInvalidJSON)
	assert.Contains(t, err.Error(), "larger than")
}

func TestCanonicalizeAppendsAndReuses(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	want, err := Canonicalize(nil, body)
	require.NoError(t, err)

	buf := make([]byte, 0, 4)
	for range 3 { // pooled state must not leak between calls
		buf, err = Canonicalize(buf[:0], body)
		require.NoError(t, err)
		assert.Equal(t, want, buf)
		_, err = Canonicalize(nil, []byte(`{"z":1,"a":[1.0]}`))
		require.NoError(t, err)
	}

	again, err := Canonicalize(nil, want)
	require.NoError(t, err)
	assert.Equal(t, want, again, "idempotent")
}

// The fixture is what downstream tests rely on: keep its promises checked.
func TestFullFixture(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	assert.GreaterOrEqual(t, len(body), 12<<10)
	assert.LessOrEqual(t, len(body), 18<<10)
	for _, b := range body {
		require.Less(t, b, byte(0x80), "Didit sends ensure_ascii=True bodies")
	}
	canon, err := Canonicalize(nil, body)
	require.NoError(t, err)
	for _, s := range []string{`"full_name":"Ana García López"`, `"date_of_birth":"1990-04-12"`,
		`"document_number":"X1234567K"`, `"vendor_data":"user-4242"`, `"ip_city":"東京"`,
		`"risk":"POSSIBLE_DUPLICATED_USER"`, `"risk":"PRIVATE_NETWORK_DETECTED"`, `"score":95,`} {
		assert.Contains(t, string(canon), s)
	}
	assert.Contains(t, string(body), `"score":95.0,`, "a whole float that V2 turns into an int")
	assert.NotEqual(t, body, canon)
}

func TestAppendPyFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0.1, "0.1"},
		{math.Copysign(0, -1), "0"}, // negative zero: a whole float, so an int
		{1e16, "10000000000000000"},
		{1e-5, "1e-05"},
		{1.5e-300, "1.5e-300"},
		{0.0001, "0.0001"},
		{123456789012345.6, "123456789012345.6"},
		{math.MaxFloat64, "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368"},
		{-9.2233720368547758e18, "-9223372036854775808"},
		{9.2233720368547758e18, "9223372036854775808"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
		{math.NaN(), "NaN"},
		{5e-324, "5e-324"},
		{0.5, "0.5"},
		{1234.5e-8, "1.2345e-05"},
		{9999999999999998, "9999999999999998"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, string(appendPyFloat(nil, tt.f)))
		})
	}
}

func TestReprLike(t *testing.T) {
	tests := []struct {
		lit  string
		want bool
	}{
		{"0.5", true}, {"89.92", true}, {"0.0001", true}, {"0.00001", false}, {"1.0", false},
		{"1.50", false}, {"123456789012345.6", false}, {"12345678901234.5", true},
		{"0.123456789012345", true}, {"0.1234567890123456", false}, {"0.000123456789012345", true},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			dot := strings.IndexByte(tt.lit, '.')
			assert.Equal(t, tt.want, reprLike([]byte(tt.lit[:dot]), []byte(tt.lit[dot+1:])))
		})
	}
}

func TestPlainASCII(t *testing.T) {
	assert.True(t, plainASCII([]byte(strings.Repeat("abc~ /", 10))))
	assert.True(t, plainASCII(nil))
	for _, bad := range []string{"\\", "\x1f", "\x00", "\x80", "é", "\xff"} {
		for _, at := range []int{0, 7, 8, 20} {
			s := []byte(strings.Repeat("a", 24))
			s = append(s[:at], append([]byte(bad), s[at:]...)...)
			assert.False(t, plainASCII(s), "%q at %d", bad, at)
		}
	}
	assert.True(t, bytes.Equal([]byte("\x7f"), []byte{0x7f}) && plainASCII([]byte("\x7f")), "DEL is plain")
}
