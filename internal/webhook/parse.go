package webhook

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// frame is a container that is open while parsing.
type frame struct {
	idx      int32 // tape index of the container
	prevKey  int32 // tape index of the previous key, -1 before the first
	count    int32 // children so far
	obj      bool
	spaced   bool // whitespace between the container's own tokens
	kids     bool // every child (and key) so far is canonical
	unsorted bool // keys so far are not strictly increasing
}

// parse validates body with the grammar of Python's json.loads (strict
// strings, NaN and Infinity allowed) and builds the tape. It is one loop with
// an explicit stack of open containers rather than a recursive descent.
func (c *canonicalizer) parse(body []byte) error {
	c.b = body
	tape, stack, err := c.parseTape(body, c.tape[:0], c.stack[:0])
	c.tape, c.stack = tape, stack[:0]
	return err
}

func syntaxAt(i int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalidJSON, what, i)
}

func (c *canonicalizer) parseTape(b []byte, tape []node, stack []frame) ([]node, []frame, error) {
	i := 0
	if bytes.HasPrefix(b, utf8BOM) {
		i = len(utf8BOM) // json.loads(bytes) decodes with utf-8-sig
	}
	i = skipWS(b, i)
	for {
		// A value starts at i.
		if i >= len(b) {
			return tape, stack, syntaxAt(i, "expecting value")
		}
		last := int32(len(tape))
		switch ch := b[i]; ch {
		case '"':
			end, flags, bad := scanString(b, i)
			if bad != "" {
				return tape, stack, syntaxAt(end, bad)
			}
			tape = append(tape, node{start: int32(i), end: int32(end), info: mkinfo(kindString, flags)})
			i = end
		case '{', '[':
			if len(stack) >= MaxDepth {
				return tape, stack, fmt.Errorf("%w at offset %d", ErrTooDeep, i)
			}
			k, closing := kindArray, byte(']')
			if ch == '{' {
				k, closing = kindObject, '}'
			}
			tape = append(tape, node{start: int32(i), info: mkinfo(k, 0)})
			j := skipWS(b, i+1)
			if j < len(b) && b[j] == closing { // empty: complete already
				n := &tape[last]
				n.end, n.skip = int32(j+1), last+1
				if j == i+1 {
					n.info |= flagCanonical
				} else {
					n.info |= flagSpaced
				}
				i = j + 1
				break
			}
			stack = append(stack, frame{idx: last, prevKey: -1, obj: ch == '{', spaced: j != i+1, kids: true})
			i = j
			if ch == '{' {
				var err error
				if tape, i, err = c.parseKey(b, i, tape, &stack[len(stack)-1]); err != nil {
					return tape, stack, err
				}
			}
			continue // parse the first child
		case 't', 'f', 'n', 'N', 'I':
			k := literalKind[ch]
			lit := literals[k]
			if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
				return tape, stack, syntaxAt(i, "expecting value")
			}
			tape = append(tape, node{start: int32(i), end: int32(i + len(lit)), info: mkinfo(k, flagCanonical)})
			i += len(lit)
		default:
			if ch == '-' && i+1 < len(b) && b[i+1] == 'I' {
				if len(b)-i < 9 || string(b[i:i+9]) != "-Infinity" {
					return tape, stack, syntaxAt(i, "expecting value")
				}
				tape = append(tape, node{start: int32(i), end: int32(i + 9), info: mkinfo(kindNegInf, flagCanonical)})
				i += 9
				break
			}
			end, k, flags, err := scanNumber(b, i)
			if err != nil {
				return tape, stack, err
			}
			tape = append(tape, node{start: int32(i), end: int32(end), info: mkinfo(k, flags)})
			i = end
		}

		// The value at tape[last] is complete: close containers until one
		// expects another child.
		for {
			if len(stack) == 0 {
				if i = skipWS(b, i); i != len(b) {
					return tape, stack, syntaxAt(i, "extra data")
				}
				return tape, stack, nil
			}
			f := &stack[len(stack)-1]
			f.kids = f.kids && tape[last].is(flagCanonical)
			f.count++
			if i < len(b) && b[i] <= ' ' {
				j := skipWS(b, i)
				f.spaced = f.spaced || j != i
				i = j
			}
			if i >= len(b) {
				return tape, stack, syntaxAt(i, "expecting ',' delimiter")
			}
			closing := byte(']')
			if f.obj {
				closing = '}'
			}
			if ch := b[i]; ch == ',' {
				j := skipWS(b, i+1)
				f.spaced = f.spaced || j != i+1
				i = j
				if f.obj {
					var err error
					if tape, i, err = c.parseKey(b, i, tape, f); err != nil {
						return tape, stack, err
					}
				}
				break // parse the next child
			} else if ch != closing {
				return tape, stack, syntaxAt(i, "expecting ',' delimiter")
			}
			i++
			n := &tape[f.idx]
			n.end, n.skip = int32(i), int32(len(tape))
			n.info |= uint32(f.count) << countShift
			switch {
			case f.spaced:
				n.info |= flagSpaced
			case f.kids && !f.unsorted:
				n.info |= flagCanonical
			}
			if f.unsorted {
				n.info |= flagUnsorted
			}
			last = f.idx
			stack = stack[:len(stack)-1]
		}
	}
}

var literalKind = [256]kind{'t': kindTrue, 'f': kindFalse, 'n': kindNull, 'N': kindNaN, 'I': kindInf}

// parseKey reads `"key" :` at b[i] for the object f and returns the index of
// the value that follows.
func (c *canonicalizer) parseKey(b []byte, i int, tape []node, f *frame) ([]node, int, error) {
	if i >= len(b) || b[i] != '"' {
		return tape, i, syntaxAt(i, "expecting property name enclosed in double quotes")
	}
	end, flags, bad := scanString(b, i)
	if bad != "" {
		return tape, i, syntaxAt(end, bad)
	}
	n := node{start: int32(i), end: int32(end), info: mkinfo(kindString, flags)}
	if flags&flagEscaped != 0 { // sort and compare keys by their decoded form
		off := len(c.arena)
		c.arena = decodeString(c.arena, b[i+1:end-1])
		n.skip = int32(off)
		n.info |= uint32(len(c.arena)-off) << countShift
	}
	key := int32(len(tape))
	tape = append(tape, n)
	f.kids = f.kids && flags&flagCanonical != 0
	k := c.keyIn(tape, key)
	if f.prevKey >= 0 && !f.unsorted {
		prev := c.keyIn(tape, f.prevKey)
		if len(prev) > 0 && len(k) > 0 && prev[0] != k[0] {
			f.unsorted = prev[0] > k[0]
		} else {
			f.unsorted = bytes.Compare(prev, k) >= 0
		}
	}
	f.prevKey = key
	i = end
	if i < len(b) && b[i] <= ' ' {
		j := skipWS(b, i)
		f.spaced = f.spaced || j != i
		i = j
	}
	if i >= len(b) || b[i] != ':' {
		return tape, i, syntaxAt(i, "expecting ':' delimiter")
	}
	j := skipWS(b, i+1)
	f.spaced = f.spaced || j != i+1
	return tape, j, nil
}

// keyIn is key for a tape that is still being built.
func (c *canonicalizer) keyIn(tape []node, i int32) []byte {
	n := &tape[i]
	if n.is(flagEscaped) {
		return c.arena[n.skip : n.skip+n.count()]
	}
	return c.b[n.start+1 : n.end-1]
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// skipWS returns the index of the first byte at or after i that is not JSON whitespace.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanNumber reads the number at b[i] with Python's regex
// -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?; what it leaves unconsumed fails
// later as a missing delimiter, as in Python.
func scanNumber(b []byte, start int) (int, kind, uint32, error) {
	i := start
	if b[i] == '-' {
		i++
	}
	intStart := i
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, 0, 0, syntaxAt(start, "expecting value")
	}
	intEnd, fracEnd := i, i
	k := kindInt
	if i+1 < len(b) && b[i] == '.' && b[i+1] >= '0' && b[i+1] <= '9' {
		k = kindFloat
		i += 2
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	exp := false
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		j := i + 1
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j < len(b) && b[j] >= '0' && b[j] <= '9' {
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			k, exp = kindFloat, true
			i = j
		}
	}
	var flags uint32
	switch {
	case k == kindInt && intEnd-intStart > maxIntDigits:
		return i, 0, 0, fmt.Errorf("%w at offset %d", ErrIntegerTooLong, start)
	case k == kindInt:
		if intEnd-start != 2 || b[start] != '-' || b[intStart] != '0' { // int("-0") is 0
			flags = flagCanonical
		}
	case !exp && reprLike(b[intStart:intEnd], b[intEnd+1:fracEnd]):
		flags = flagCanonical
	}
	return i, k, flags, nil
}

// reprLike reports whether the float literal intPart.frac (no exponent) is
// already Python's repr of its value. A decimal of at most 15 significant
// digits survives the trip through a double (DBL_DIG), so the shortest
// round-trip digits are its own; repr then writes them positionally when
// 1e-4 <= |x| < 1e16. Trailing zeros and whole values are not repr-like.
func reprLike(intPart, frac []byte) bool {
	if frac[len(frac)-1] == '0' {
		return false
	}
	if intPart[0] != '0' {
		return len(intPart)+len(frac) <= 15
	}
	lead := 0
	for lead < len(frac) && frac[lead] == '0' {
		lead++
	}
	return lead <= 3 && len(frac)-lead <= 15
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special8 is non-zero when any of the 8 bytes in x is '"', '\\', a control
// character or non-ASCII: the bytes a string scan must stop at. Its lowest
// set bit always marks a real such byte (borrows only propagate upwards).
func special8(x uint64) uint64 {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((x-lsb*0x20)&^x | (q-lsb)&^q | (s-lsb)&^s | x) & msb
}

// plainASCII reports whether s is printable ASCII without backslashes.
func plainASCII(s []byte) bool {
	if bytes.IndexByte(s, '\\') >= 0 {
		return false
	}
	var acc uint64
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64(s)
		acc |= (x - lsb*0x20) | x // high bit set for a byte < 0x20 or >= 0x80 (or above one)
		s = s[8:]
	}
	for _, ch := range s {
		acc |= uint64(ch-0x20) | uint64(ch) // wraps below 0x20: high bit again
	}
	return acc&msb == 0
}

// plain marks bytes that may appear unescaped in a JSON string and need no
// attention: printable ASCII other than '"' and '\\'. DEL is plain, as in Python.
var plain = func() (t [256]bool) {
	for i := 0x20; i < 0x80; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

var hexVal = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := '0'; i <= '9'; i++ {
		t[i] = int8(i - '0')
	}
	for i := 'a'; i <= 'f'; i++ {
		t[i] = int8(i - 'a' + 10)
		t[i-'a'+'A'] = int8(i - 'a' + 10)
	}
	return t
}()

// scanString scans the string whose opening quote is b[start] with Python's
// strict rules: no raw control characters, only the standard escapes, exactly
// four hex digits after \u, UTF-8 (with encoded surrogates let through, as
// Python's surrogatepass decoding does). It returns the index after the
// closing quote, or the offset of the problem and a description.
func scanString(b []byte, start int) (int, uint32, string) {
	i := start + 1
	flags := flagCanonical
	words := 0
	for {
		// Jump to the next byte that needs attention, 8 bytes at a time.
		if len(b)-i >= 8 {
			m := special8(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				if words++; words == 6 {
					// A long string (a URL, say): find its end with the vectorised
					// IndexByte and vet the stretch in bulk; once per string.
					if q := bytes.IndexByte(b[i:], '"'); q >= 0 && plainASCII(b[i:i+q]) {
						i += q
					}
				}
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else {
			for i < len(b) && plain[b[i]] {
				i++
			}
			if i >= len(b) {
				return i, 0, "unterminated string"
			}
		}
		switch ch := b[i]; {
		case ch == '"':
			return i + 1, flags, ""
		case ch == '\\':
			flags |= flagEscaped
			if i+1 >= len(b) {
				return i, 0, "unterminated string"
			}
			switch b[i+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't': // written back as they are
				i += 2
			case '/':
				flags &^= flagCanonical
				i += 2
			case 'u':
				if len(b)-i < 6 || hexVal[b[i+2]]|hexVal[b[i+3]]|hexVal[b[i+4]]|hexVal[b[i+5]] < 0 {
					return i, 0, `invalid \uXXXX escape`
				}
				flags &^= flagCanonical
				i += 6
			default:
				return i, 0, "invalid escape"
			}
		case ch < 0x20:
			return i, 0, "invalid control character"
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				// Python decodes bytes with errors="surrogatepass": an encoded
				// surrogate is read, and only fails if it is ever encoded again.
				if ch != 0xED || len(b)-i < 3 || b[i+1]&0xE0 != 0xA0 || b[i+2]&0xC0 != 0x80 {
					return i, 0, "invalid UTF-8"
				}
				flags = flags&^flagCanonical | flagSurrogate
				size = 3
			}
			i += size
		}
	}
}
