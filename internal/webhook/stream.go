package webhook

import (
	"bytes"
	"fmt"
)

// stream canonicalises in one pass, without a tape, a body whose objects all
// have strictly increasing keys: the output is the input with whitespace
// dropped and only the tokens Python writes differently rewritten, so a
// Didit body is mostly copied in a few large appends. It validates exactly as
// parse does. When an object would need sorting or de-duplicating, or a
// string holds a surrogate (which may yet be dropped as a duplicate), it
// gives up with ok false and general handles the body.
func (c *canonicalizer) stream(dst, b []byte) ([]byte, bool, error) {
	out, keyed, ok, err := c.streamAll(dst, b, c.keyed[:0])
	c.keyed = keyed[:0] // keep its capacity for the next call
	return out, ok, err
}

// streamAll is stream with its stack passed in and out, so that the hot loop
// keeps its state in registers rather than in a closure.
func (c *canonicalizer) streamAll(dst, b []byte, keyed [][]byte) (out []byte, _ [][]byte, ok bool, err error) {
	out = dst
	i := 0
	if bytes.HasPrefix(b, utf8BOM) {
		i = len(utf8BOM)
	}
	i = skipWS(b, i)
	from := i // b[from:i] is canonical and not yet in out
	// keyed holds, per open container, the previous key (nil before the
	// first, and for arrays); objects are marked by objs.
	var objs bitstack
	var okKey bool

	for {
		// A value starts at i.
		if i >= len(b) {
			return dst, keyed, false, syntaxAt(i, "expecting value")
		}
		switch ch := b[i]; ch {
		case '"':
			end, flags, bad := scanString(b, i)
			if bad != "" {
				return dst, keyed, false, syntaxAt(end, bad)
			}
			if flags&flagCanonical == 0 {
				if flags&flagSurrogate != 0 {
					return dst, keyed, false, nil
				}
				out = append(out, b[from:i]...)
				var okEsc bool
				if out, okEsc = appendEscaped(out, b[i+1:end-1]); !okEsc {
					return dst, keyed, false, nil
				}
				from = end
			}
			i = end
		case '{', '[':
			if len(keyed) >= MaxDepth {
				return dst, keyed, false, fmt.Errorf("%w at offset %d", ErrTooDeep, i)
			}
			closing := byte(']')
			if ch == '{' {
				closing = '}'
			}
			i++
			if i < len(b) && b[i] <= ' ' {
				out = append(out, b[from:i]...)
				i = skipWS(b, i)
				from = i
			}
			if i < len(b) && b[i] == closing {
				i++
				break // empty
			}
			keyed = append(keyed, nil)
			objs.push(ch == '{')
			if ch == '{' {
				if i, out, from, okKey, err = c.streamKey(b, i, out, from, keyed); !okKey {
					return dst, keyed, false, err
				}
			}
			continue
		case 't', 'f', 'n', 'N', 'I':
			lit := literals[literalKind[ch]]
			if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
				return dst, keyed, false, syntaxAt(i, "expecting value")
			}
			i += len(lit)
		default:
			if ch == '-' && i+1 < len(b) && b[i+1] == 'I' {
				if len(b)-i < 9 || string(b[i:i+9]) != "-Infinity" {
					return dst, keyed, false, syntaxAt(i, "expecting value")
				}
				i += 9
				break
			}
			end, k, flags, err := scanNumber(b, i)
			if err != nil {
				return dst, keyed, false, err
			}
			if flags&flagCanonical == 0 {
				out = append(out, b[from:i]...)
				out = appendNumber(out, b[i:end], k)
				from = end
			}
			i = end
		}

		// A value is complete: close containers until one expects another child.
		for {
			if len(keyed) == 0 {
				out = append(out, b[from:i]...)
				if i = skipWS(b, i); i != len(b) {
					return dst, keyed, false, syntaxAt(i, "extra data")
				}
				return out, keyed, true, nil
			}
			if i < len(b) && b[i] <= ' ' {
				out = append(out, b[from:i]...)
				i = skipWS(b, i)
				from = i
			}
			if i >= len(b) {
				return dst, keyed, false, syntaxAt(i, "expecting ',' delimiter")
			}
			obj := objs.top()
			closing := byte(']')
			if obj {
				closing = '}'
			}
			if ch := b[i]; ch == ',' {
				i++
				if i < len(b) && b[i] <= ' ' {
					out = append(out, b[from:i]...)
					i = skipWS(b, i)
					from = i
				}
				if obj {
					if i, out, from, okKey, err = c.streamKey(b, i, out, from, keyed); !okKey {
						return dst, keyed, false, err
					}
				}
				break // parse the next child
			} else if ch != closing {
				return dst, keyed, false, syntaxAt(i, "expecting ',' delimiter")
			}
			i++
			keyed = keyed[:len(keyed)-1]
			objs.pop()
		}
	}
}

// streamKey reads `"key" :` at b[i] for the innermost open object, whose
// previous key is the last of keyed, and returns the index of the value, or
// ok false to give up (with err set if the body is invalid).
func (c *canonicalizer) streamKey(b []byte, i int, out []byte, from int, keyed [][]byte) (int, []byte, int, bool, error) {
	if i >= len(b) || b[i] != '"' {
		return i, out, from, false, syntaxAt(i, "expecting property name enclosed in double quotes")
	}
	end, flags, bad := scanString(b, i)
	if bad != "" {
		return i, out, from, false, syntaxAt(end, bad)
	}
	if flags&flagSurrogate != 0 {
		return i, out, from, false, nil
	}
	k := b[i+1 : end-1]
	if flags&flagEscaped != 0 {
		off := len(c.arena)
		c.arena = decodeString(c.arena, k)
		k = c.arena[off:len(c.arena):len(c.arena)]
	}
	if flags&flagCanonical == 0 {
		out = append(out, b[from:i]...)
		var ok bool
		if out, ok = appendEscaped(out, b[i+1:end-1]); !ok {
			return i, out, from, false, nil
		}
		from = end
	}
	top := len(keyed) - 1
	if prev := keyed[top]; prev != nil {
		if len(prev) > 0 && len(k) > 0 && prev[0] != k[0] {
			if prev[0] > k[0] {
				return i, out, from, false, nil
			}
		} else if bytes.Compare(prev, k) >= 0 {
			return i, out, from, false, nil
		}
	}
	keyed[top] = k
	i = end
	if i < len(b) && b[i] <= ' ' {
		out = append(out, b[from:i]...)
		i = skipWS(b, i)
		from = i
	}
	if i >= len(b) || b[i] != ':' {
		return i, out, from, false, syntaxAt(i, "expecting ':' delimiter")
	}
	i++
	if i < len(b) && b[i] <= ' ' {
		out = append(out, b[from:i]...)
		i = skipWS(b, i)
		from = i
	}
	return i, out, from, true, nil
}

// bitstack is a stack of MaxDepth booleans, one bit each, that needs no allocation.
type bitstack struct {
	bits [(MaxDepth + 63) / 64]uint64
	n    int
}

func (s *bitstack) push(v bool) {
	if v {
		s.bits[s.n/64] |= 1 << (s.n % 64)
	} else {
		s.bits[s.n/64] &^= 1 << (s.n % 64)
	}
	s.n++
}

func (s *bitstack) pop()      { s.n-- }
func (s *bitstack) top() bool { return s.bits[(s.n-1)/64]&(1<<((s.n-1)%64)) != 0 }
