package diditsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Marshal serialises v the way Didit serialises the raw webhook body it signs with X-Signature:
// Python's json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True). Unlike
// encoding/json it does not escape <, > and &, escapes every non-ASCII character as \uXXXX
// (surrogate pairs beyond the BMP), and writes floats as Python's repr does (95.0, 1e-05), so a
// whole-number float keeps its ".0" — which is why X-Signature-V2's canonical form differs.
//
// Supported values: nil, bool, string, integers, floats, json.Number, maps with string keys,
// and slices; anything else goes through encoding/json first.
func Marshal(v any) ([]byte, error) {
	return pyEncoder{ascii: true}.append(nil, v)
}

// CanonicalV2 is the text Didit signs with X-Signature-V2 (shared/didit-api.md §1.3):
//
//	json.dumps(shorten_floats(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
//
// encoded as UTF-8: non-ASCII characters stay as they are (only '"', '\\' and control
// characters below U+0020 are escaped), and every float that is a whole number becomes the
// exact integer Python's int(f) gives (95.0 → 95, 1e22 → 10000000000000000000000). It is the
// simulator's own implementation, independent of the receiver's canonicaliser, so that tests
// driven by the simulator catch a drift in either.
func CanonicalV2(v any) ([]byte, error) {
	return pyEncoder{shorten: true}.append(nil, v)
}

// CanonicalV2Body is CanonicalV2 of a JSON text, parsed as Python's json.loads would: integer
// literals stay integers, anything with a fraction or exponent is a float.
func CanonicalV2Body(body []byte) ([]byte, error) {
	var v any
	if err := unmarshalNumbers(body, &v); err != nil {
		return nil, fmt.Errorf("diditsim: canonical V2: %w", err)
	}
	return CanonicalV2(v)
}

// pyEncoder is Python's json.dumps with sort_keys=True and compact separators; ascii is
// ensure_ascii, shorten applies Didit's shorten_floats first.
type pyEncoder struct {
	ascii, shorten bool
}

func (e pyEncoder) append(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return e.appendString(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float32:
		return e.appendFloat(dst, float64(x)), nil
	case float64:
		return e.appendFloat(dst, x), nil
	case json.Number:
		return e.appendNumber(dst, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // byte order of UTF-8 = code point order = Python's sort_keys
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = e.append(dst, x[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return e.append(dst, m)
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.append(dst, el); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendString(dst, s)
		}
		return append(dst, ']'), nil
	case []map[string]any:
		a := make([]any, len(x))
		for i, m := range x {
			a[i] = m
		}
		return e.append(dst, a)
	default:
		// Structs and other types: through encoding/json, keeping numbers as written.
		b, err := json.Marshal(v)
		if err != nil {
			return dst, fmt.Errorf("diditsim: marshal %T: %w", v, err)
		}
		var generic any
		if err := unmarshalNumbers(b, &generic); err != nil {
			return dst, err
		}
		return e.append(dst, generic)
	}
}

// appendNumber writes a number decoded from JSON as Python would re-serialise it: an integer
// literal stays as written (Python ints are unbounded) except that -0 is 0, anything with a
// fraction or exponent becomes a float.
func (e pyEncoder) appendNumber(dst []byte, n json.Number) ([]byte, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if strings.TrimLeft(s, "-0") == "" {
			return append(dst, '0'), nil
		}
		return append(dst, s...), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf or 0, as Python's float()
		return dst, fmt.Errorf("diditsim: number %q: %w", s, err)
	}
	return e.appendFloat(dst, f), nil
}

// appendFloat writes f as json.dumps does, after shorten_floats when e.shorten: a finite whole
// number becomes int(f), written exactly.
func (e pyEncoder) appendFloat(dst []byte, f float64) []byte {
	if e.shorten && !math.IsInf(f, 0) && !math.IsNaN(f) && f == math.Trunc(f) {
		if f == 0 {
			return append(dst, '0') // int(-0.0) is 0
		}
		return append(dst, new(big.Float).SetFloat64(f).Text('f', 0)...)
	}
	return appendPyFloat(dst, f)
}

// appendPyFloat writes repr(f): the shortest round-tripping digits, fixed notation for decimal
// exponents in [-4, 16), scientific with a two-digit exponent otherwise, ".0" on whole numbers.
func appendPyFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // [-]d[.ddd]e±XX
	if s[0] == '-' {
		dst = append(dst, '-')
		s = s[1:]
	}
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	if exp < -4 || exp >= 16 {
		dst = append(dst, digits[0])
		if len(digits) > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if exp < 0 {
			dst = append(dst, '-')
			exp = -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(exp), 10)
	}
	if exp < 0 {
		dst = append(dst, "0."...)
		for i := 0; i < -exp-1; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	intLen := exp + 1
	if len(digits) <= intLen {
		dst = append(dst, digits...)
		for i := len(digits); i < intLen; i++ {
			dst = append(dst, '0')
		}
		return append(dst, ".0"...)
	}
	dst = append(dst, digits[:intLen]...)
	dst = append(dst, '.')
	return append(dst, digits[intLen:]...)
}

// appendString writes s as json.dumps does. With ensure_ascii=True: printable ASCII as is,
// the usual short escapes, and every other code point as lowercase \uXXXX. With
// ensure_ascii=False: only '"', '\\' and code points below U+0020 are escaped (DEL, U+2028
// and U+2029 stay raw), everything else is written as UTF-8.
func (e pyEncoder) appendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	u4 := func(dst []byte, r rune) []byte {
		return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			if c == '"' || c == '\\' {
				dst = append(dst, '\\')
			}
			dst = append(dst, c)
			i++
			continue
		}
		switch c {
		case '\n':
			dst = append(dst, `\n`...)
			i++
			continue
		case '\r':
			dst = append(dst, `\r`...)
			i++
			continue
		case '\t':
			dst = append(dst, `\t`...)
			i++
			continue
		case '\b':
			dst = append(dst, `\b`...)
			i++
			continue
		case '\f':
			dst = append(dst, `\f`...)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if !e.ascii && r >= 0x20 {
			dst = utf8.AppendRune(dst, r) // invalid UTF-8 becomes U+FFFD, as Go decoded it
			continue
		}
		if r > 0xffff {
			r -= 0x10000
			dst = u4(dst, 0xd800|(r>>10)&0x3ff)
			dst = u4(dst, 0xdc00|r&0x3ff)
			continue
		}
		dst = u4(dst, r) // RuneError for invalid UTF-8 becomes \ufffd, as Python never holds it
	}
	return append(dst, '"')
}

// unmarshalNumbers decodes JSON keeping numbers as json.Number, so integers stay integers.
func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}
