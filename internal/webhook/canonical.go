package webhook

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Canonicalisation errors. Each wraps into a message with the byte offset of the
// problem, never with body content, so it is safe to log.
var (
	// ErrInvalidJSON: Python's json.loads would raise, so Didit cannot have signed it.
	ErrInvalidJSON = &Error{"invalid_json", "body is not valid JSON"}
	// ErrLoneSurrogate: a string keeps an unpaired UTF-16 surrogate, which Python's
	// .encode("utf-8") refuses, so no V2 signature can exist for the body.
	ErrLoneSurrogate = &Error{"lone_surrogate", "string contains an unpaired surrogate"}
	// ErrIntegerTooLong: Python 3.11+ refuses to convert integers of more than
	// 4300 digits (sys.int_info.default_max_str_digits).
	ErrIntegerTooLong = &Error{"integer_too_long", "integer literal has more than 4300 digits"}
	// ErrTooDeep: nesting beyond MaxDepth. Python itself raises RecursionError
	// below this depth (about 500 levels with a recursive shorten_floats).
	ErrTooDeep = &Error{"too_deep", "JSON nesting too deep"}
)

// MaxDepth bounds nesting so that hostile bodies cannot exhaust the stack.
const MaxDepth = 1000

// maxIntDigits is CPython's default int/str conversion limit.
const maxIntDigits = 4300

// Canonicalize appends to dst the bytes Didit signs for X-Signature-V2 and
// returns the extended slice. The result is byte for byte what Python produces with
//
//	json.dumps(shorten_floats(json.loads(body)), sort_keys=True,
//	           separators=(",", ":"), ensure_ascii=False).encode("utf-8")
//
// where shorten_floats turns every whole float (1.0, -0.0, 1e16) into an int.
// That is: keys sorted by code point with the last duplicate winning, no
// whitespace, Unicode unescaped (only '"', '\\' and C0 controls escaped, the
// latter as \b \t \n \f \r or lowercase \u00xx), integer literals copied
// exactly whatever their size, other numbers in Python's float repr.
//
// Like Python it accepts the NaN, Infinity and -Infinity literals and a
// leading UTF-8 byte order mark, and turns float overflow (1e400) into
// Infinity. Unlike Python it reads the body as UTF-8 only (Python would sniff
// UTF-16/32; Didit sends UTF-8) and refuses bodies over MaxBodySize bytes or
// nested deeper than MaxDepth. On error dst is returned unchanged.
//
// The body is parsed into a flat tape of tokens and emitted with sorting,
// copying subtrees (and runs of siblings) that are already canonical, so a Didit
// body, already sorted and compact, is mostly copied in a few large appends.
// Buffers are pooled, so a call does not allocate. (A one-pass path for sorted
// bodies used to sit in front of this one; it saved about 4 µs of 40 on a 16 KB
// body, VerifyV2 stays near 3× the bare HMAC without it, so it was removed.)
func Canonicalize(dst, body []byte) ([]byte, error) {
	c := canonPool.Get().(*canonicalizer)
	defer c.release()
	if len(body) > MaxBodySize {
		return dst, fmt.Errorf("%w: body larger than %d bytes", ErrInvalidJSON, MaxBodySize)
	}
	if err := c.parse(body); err != nil {
		return dst, err
	}
	out, _, err := c.emit(dst, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// node is one JSON value on the tape that parse builds, in document order.
// Containers are followed by their children; objects by key, value pairs.
// It is 16 bytes: a larger node made building the tape measurably slower.
type node struct {
	// start and end delimit the value's token in the body, quotes and
	// brackets included.
	start, end int32
	// skip is, for containers, the index of the first node after the subtree;
	// for escaped keys, the offset of the decoded key in the arena.
	skip int32
	// info packs the kind (4 bits), flags (5 bits) and, above them, the
	// number of children of a container or the decoded length of an escaped key.
	info uint32
}

func (n *node) kind() kind               { return kind(n.info & kindMask) }
func (n *node) count() int32             { return int32(n.info >> countShift) }
func (n *node) is(flags uint32) bool     { return n.info&flags != 0 }
func mkinfo(k kind, flags uint32) uint32 { return uint32(k) | flags }

type kind uint8

const (
	kindNull kind = iota
	kindFalse
	kindTrue
	kindNaN
	kindInf
	kindNegInf
	kindInt
	kindFloat
	kindString
	kindArray
	kindObject
)

const kindMask = 0xF

const (
	// flagCanonical: the token is already exactly what Python would write,
	// so emit copies it (a whole subtree, for containers) in one go.
	flagCanonical uint32 = 1 << (4 + iota)
	flagEscaped          // string contains backslash escapes
	flagSurrogate        // string contains a raw UTF-8-encoded surrogate (Python's surrogatepass)
	flagUnsorted         // object keys are not strictly increasing (unsorted or duplicated)
	flagSpaced           // container has whitespace between its own tokens
)

const (
	countShift = 9
	// MaxBodySize bounds what Canonicalize accepts so that offsets and counts
	// fit the tape; Didit bodies are a few tens of kilobytes.
	MaxBodySize = 1<<(32-countShift) - 1
)

var literals = [...]string{kindNull: "null", kindFalse: "false", kindTrue: "true",
	kindNaN: "NaN", kindInf: "Infinity", kindNegInf: "-Infinity"}

// canonicalizer holds the reusable buffers of one Canonicalize call.
type canonicalizer struct {
	b     []byte
	tape  []node
	keys  []int32 // stack of object member indices being emitted
	stack []frame // open containers while parsing
	arena []byte  // decoded escaped keys
}

var canonPool = sync.Pool{New: func() any { return new(canonicalizer) }}

func (c *canonicalizer) release() {
	c.b = nil
	// Keep buffers sized for ordinary webhooks; drop ones grown by huge bodies.
	if cap(c.tape) > 1<<16 || cap(c.arena) > 1<<20 || cap(c.keys) > 1<<16 {
		*c = canonicalizer{}
	}
	c.tape, c.keys, c.arena, c.stack = c.tape[:0], c.keys[:0], c.arena[:0], c.stack[:0]
	canonPool.Put(c)
}

// next returns the index of the node after the subtree rooted at i.
func (c *canonicalizer) next(i int32) int32 {
	if k := c.tape[i].kind(); k == kindArray || k == kindObject {
		return c.tape[i].skip
	}
	return i + 1
}

// key returns the decoded bytes of the key node i, for sorting.
func (c *canonicalizer) key(i int32) []byte {
	n := &c.tape[i]
	if n.is(flagEscaped) {
		return c.arena[n.skip : n.skip+n.count()]
	}
	return c.b[n.start+1 : n.end-1]
}

// emit appends the canonical form of the subtree at i and returns the index after it.
func (c *canonicalizer) emit(dst []byte, i int32) ([]byte, int32, error) {
	n := &c.tape[i]
	if n.is(flagCanonical) {
		return append(dst, c.b[n.start:n.end]...), c.next(i), nil
	}
	switch n.kind() {
	case kindString:
		dst, err := c.appendString(dst, n)
		return dst, i + 1, err
	case kindInt, kindFloat:
		return appendNumber(dst, c.b[n.start:n.end], n.kind()), i + 1, nil
	case kindArray:
		dst = append(dst, '[')
		var r run
		j := i + 1
		for k := int32(0); k < n.count(); k++ {
			e := &c.tape[j]
			if e.is(flagCanonical) && !n.is(flagSpaced) {
				dst = r.add(dst, e.start, e.end, k > 0)
				j = c.next(j)
				continue
			}
			dst = r.flush(dst, c.b)
			if k > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, j, err = c.emit(dst, j); err != nil {
				return dst, 0, err
			}
		}
		return append(r.flush(dst, c.b), ']'), n.skip, nil
	case kindObject:
		base := len(c.keys)
		dst, err := c.emitMembers(dst, n, i, base)
		c.keys = c.keys[:base]
		return dst, n.skip, err
	default:
		return append(dst, literals[n.kind()]...), i + 1, nil
	}
}

// emitMembers emits object n (at i) with sorted, de-duplicated keys, using
// c.keys[base:] as scratch.
func (c *canonicalizer) emitMembers(dst []byte, n *node, i int32, base int) ([]byte, error) {
	j := i + 1
	for k := int32(0); k < n.count(); k++ {
		c.keys = append(c.keys, j)
		j = c.next(j + 1)
	}
	unsorted := n.is(flagUnsorted)
	if unsorted {
		// Stable, so that among equal keys the last in the document sorts last.
		slices.SortStableFunc(c.keys[base:], func(a, b int32) int {
			return bytes.Compare(c.key(a), c.key(b))
		})
	}
	// In a sorted object without whitespace, runs of canonical members are
	// copied as they stand, commas included.
	copyRuns := !n.is(flagUnsorted | flagSpaced)
	dst = append(dst, '{')
	var r run
	first := true
	end := base + int(n.count())
	for k := base; k < end; k++ {
		m := c.keys[k]
		if unsorted && k+1 < end && bytes.Equal(c.key(m), c.key(c.keys[k+1])) {
			continue // a later duplicate replaces this one, as in a Python dict
		}
		if key, val := &c.tape[m], &c.tape[m+1]; copyRuns && key.info&val.info&flagCanonical != 0 {
			dst = r.add(dst, key.start, val.end, !first)
			first = false
			continue
		}
		dst = r.flush(dst, c.b)
		if !first {
			dst = append(dst, ',')
		}
		first = false
		var err error
		if dst, _, err = c.emit(dst, m); err != nil {
			return dst, err
		}
		dst = append(dst, ':')
		if dst, _, err = c.emit(dst, m+1); err != nil {
			return dst, err
		}
	}
	return append(r.flush(dst, c.b), '}'), nil
}

// run accumulates adjacent canonical siblings so that they are copied from
// the body in one append, with the commas between them.
type run struct{ start, end int32 }

// add extends the run with the sibling at body[start:end]; a new run that is
// not the first sibling writes the comma before it.
func (r *run) add(dst []byte, start, end int32, comma bool) []byte {
	if r.end == 0 {
		if comma {
			dst = append(dst, ',')
		}
		r.start = start
	}
	r.end = end
	return dst
}

func (r *run) flush(dst, b []byte) []byte {
	if r.end != 0 {
		dst = append(dst, b[r.start:r.end]...)
		r.end = 0
	}
	return dst
}

// appendString writes a string node that is not canonical as it stands.
func (c *canonicalizer) appendString(dst []byte, n *node) ([]byte, error) {
	if n.is(flagSurrogate) {
		return dst, fmt.Errorf("%w at offset %d", ErrLoneSurrogate, n.start)
	}
	out, ok := appendEscaped(dst, c.b[n.start+1:n.end-1])
	if !ok {
		return dst, fmt.Errorf("%w at offset %d", ErrLoneSurrogate, n.start)
	}
	return out, nil
}

// appendEscaped writes the validated string content raw, quoted, as Python
// would: escapes it writes differently (\/, any \uXXXX) are rewritten, the
// others kept. It reports false if raw escapes an unpaired surrogate.
func appendEscaped(dst, raw []byte) ([]byte, bool) {
	dst = append(dst, '"')
	for len(raw) > 0 {
		k := bytes.IndexByte(raw, '\\')
		if k < 0 {
			dst = append(dst, raw...)
			break
		}
		dst = append(dst, raw[:k]...)
		esc := raw[k+1]
		raw = raw[k+2:]
		switch esc {
		case '/':
			dst = append(dst, '/')
		case 'u':
			r := hex4(raw)
			raw = raw[4:]
			if utf16.IsSurrogate(r) {
				r2, ok := lowSurrogate(r, raw)
				if !ok {
					return dst, false
				}
				raw = raw[6:]
				r = utf16.DecodeRune(r, r2)
			}
			dst = appendPyRune(dst, r)
		default: // '"', '\\', 'b', 'f', 'n', 'r', 't' are written as they came
			dst = append(dst, '\\', esc)
		}
	}
	return append(dst, '"'), true
}

// appendNumber writes a number literal that is not canonical as it stands:
// "-0", or a float that is whole or not in repr form.
func appendNumber(dst, lit []byte, k kind) []byte {
	if k == kindInt {
		return append(dst, '0') // int("-0") is 0
	}
	if out, ok := appendShortDecimal(dst, lit); ok {
		return out
	}
	// ParseFloat does not fail on a valid literal, except with ErrRange and a
	// correctly signed infinity or zero; the conversion does not escape.
	f, _ := strconv.ParseFloat(string(lit), 64)
	return appendPyFloat(dst, f)
}

// appendShortDecimal writes a positional float literal of few digits without
// parsing it: with its trailing zeros dropped it is Python's repr (see
// reprLike), or, when nothing is left of the fraction, the whole number that
// shorten_floats makes of it. This keeps bodies of many such literals (95.0,
// 1.10) cheap to canonicalise, forged ones included. It reports false for any
// other literal.
func appendShortDecimal(dst, lit []byte) ([]byte, bool) {
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	dot := bytes.IndexByte(lit, '.')
	if dot < 0 || bytes.ContainsAny(lit, "eE") {
		return dst, false
	}
	intPart, frac := lit[:dot], bytes.TrimRight(lit[dot+1:], "0")
	if len(frac) == 0 {
		if len(intPart) > 15 { // may not survive the trip through a double
			return dst, false
		}
		if neg && string(intPart) != "0" { // int(-0.0) is 0
			dst = append(dst, '-')
		}
		return append(dst, intPart...), true
	}
	if !reprLike(intPart, frac) {
		return dst, false
	}
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, intPart...)
	dst = append(dst, '.')
	return append(dst, frac...), true
}

// lowSurrogate reports the low surrogate escape that pairs with r at the start
// of rest. Like Python, only an immediately following \uDC00-\uDFFF pairs.
func lowSurrogate(r rune, rest []byte) (rune, bool) {
	if r >= 0xDC00 || len(rest) < 6 || rest[0] != '\\' || rest[1] != 'u' {
		return 0, false
	}
	r2 := hex4(rest[2:])
	return r2, r2 >= 0xDC00 && r2 <= 0xDFFF
}

func hex4(b []byte) rune {
	return rune(hexVal[b[0]])<<12 | rune(hexVal[b[1]])<<8 | rune(hexVal[b[2]])<<4 | rune(hexVal[b[3]])
}

const lowerHex = "0123456789abcdef"

// appendPyRune appends r as Python's json encoder writes it with ensure_ascii=False.
func appendPyRune(dst []byte, r rune) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(dst, '\\', byte(r))
	case r >= 0x20:
		return utf8.AppendRune(dst, r)
	case r == '\b':
		return append(dst, '\\', 'b')
	case r == '\t':
		return append(dst, '\\', 't')
	case r == '\n':
		return append(dst, '\\', 'n')
	case r == '\f':
		return append(dst, '\\', 'f')
	case r == '\r':
		return append(dst, '\\', 'r')
	default:
		return append(dst, '\\', 'u', '0', '0', lowerHex[r>>4], lowerHex[r&0xF])
	}
}

// decodeString appends the decoded content of a validated JSON string. Lone
// surrogates are written in WTF-8 so that they stay distinct from every
// valid string (and from each other) when keys are compared.
func decodeString(dst, raw []byte) []byte {
	for len(raw) > 0 {
		k := bytes.IndexByte(raw, '\\')
		if k < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:k]...)
		esc := raw[k+1]
		raw = raw[k+2:]
		switch esc {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw)
			raw = raw[4:]
			if utf16.IsSurrogate(r) {
				if r2, ok := lowSurrogate(r, raw); ok {
					raw = raw[6:]
					dst = utf8.AppendRune(dst, utf16.DecodeRune(r, r2))
				} else {
					dst = append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
				}
				continue
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, esc)
		}
	}
	return dst
}

// appendPyFloat appends shorten_floats(f) as Python's json.dumps writes it:
// whole values as exact integers, others as float.__repr__ (shortest
// round-trip digits, scientific notation when the exponent is below -4 or at
// least 16), non-finite values as Python's NaN/Infinity/-Infinity.
func appendPyFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == math.Trunc(f):
		if f >= -0x1p63 && f < 0x1p63 {
			return strconv.AppendInt(dst, int64(f), 10) // -0.0 becomes 0, as int(-0.0)
		}
		i, _ := new(big.Float).SetFloat64(f).Int(nil)
		return i.Append(dst, 10)
	}
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // [-]d[.ddd]e±dd, shortest digits
	e := bytes.IndexByte(s, 'e')
	exp := 0
	for _, ch := range s[e+2:] {
		exp = exp*10 + int(ch-'0')
	}
	if s[e+1] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= 16 {
		return append(dst, s...) // Go and Python agree: 1e-05, 1.5e-300
	}
	mant := s[:e]
	if mant[0] == '-' {
		dst = append(dst, '-')
		mant = mant[1:]
	}
	var digits [24]byte
	d := append(digits[:0], mant[0])
	if len(mant) > 1 {
		d = append(d, mant[2:]...)
	}
	if exp < 0 {
		dst = append(dst, '0', '.')
		for k := -1; k > exp; k-- {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	for len(d) <= exp { // not reached for non-whole values; kept for safety
		d = append(d, '0')
	}
	dst = append(dst, d[:exp+1]...)
	dst = append(dst, '.')
	if len(d) == exp+1 {
		return append(dst, '0')
	}
	return append(dst, d[exp+1:]...)
}
