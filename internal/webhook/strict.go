package webhook

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Strictness refusals: shapes Didit never sends on which Go's encoding/json and Python's
// json.loads (the reader X-Signature-V2 is defined over) would see different values.
var (
	// ErrDuplicateKey: Python keeps the last copy of a repeated key, Go builds on the first.
	ErrDuplicateKey = &Error{"duplicate_key", "object has a repeated key"}
	// ErrKeyFold: Go matches a struct field's key case-insensitively (with Unicode folding),
	// Python only exactly.
	ErrKeyFold = &Error{"key_case_variant", "key differs from a field name only in case"}
	// ErrNumberRange: a number where Go reads an integer that it would truncate or drop, or a
	// non-finite number, which Python reads and Go refuses.
	ErrNumberRange = &Error{"number_range", "number out of the range Go reads exactly"}
)

// maxExactInt bounds the integers an integer field accepts. It is below 2^53, so every value is
// exact in a float64 too, and matches internal/didit's lenient integer reader, which drops
// larger magnitudes.
const maxExactInt = 1e15

// Schema checks bodies against the Go types they decode into, so that what Go decodes is what
// Python (and so the V2 signature) reads. Build one with NewSchema; it is safe for concurrent use.
type Schema struct{ root *shape }

// shape is the expected JSON shape of a Go type.
type shape struct {
	kind   shapeKind
	fields map[string]*shape // struct: exact json names
	names  []string          // struct: the same names, for the case-fold check
	elem   *shape            // map, slice, array, pointer target
}

type shapeKind uint8

const (
	shapeAny    shapeKind = iota // anything (interfaces, raw messages, custom non-integer decoders, leaves)
	shapeStruct                  // object keyed by exact field names; other keys ignored
	shapeMap                     // object with arbitrary keys
	shapeList                    // array
	shapeInt                     // integer field (or a custom decoder of an integer kind)
)

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// NewSchema derives the schema of t from its fields and json tags, as encoding/json reads them:
// embedded structs promote their fields, a shallower field hides a deeper one of the same name.
func NewSchema(t reflect.Type) *Schema {
	return &Schema{root: shapeOf(t, map[reflect.Type]*shape{})}
}

func shapeOf(t reflect.Type, seen map[reflect.Type]*shape) *shape {
	if s, ok := seen[t]; ok {
		return s
	}
	s := &shape{}
	seen[t] = s
	if t.Kind() != reflect.Pointer && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		if isInt(t.Kind()) {
			s.kind = shapeInt
		}
		return s // its own decoder: no structure to hold it to
	}
	switch t.Kind() {
	case reflect.Pointer:
		*s = *shapeOf(t.Elem(), seen)
		seen[t] = s
	case reflect.Struct:
		s.kind, s.fields = shapeStruct, map[string]*shape{}
		depth := map[string]int{}
		addFields(s, t, 0, depth, seen)
		for n := range s.fields {
			s.names = append(s.names, n)
		}
		slices.Sort(s.names)
	case reflect.Map:
		s.kind, s.elem = shapeMap, shapeOf(t.Elem(), seen)
	case reflect.Slice, reflect.Array:
		s.kind, s.elem = shapeList, shapeOf(t.Elem(), seen)
	default:
		if isInt(t.Kind()) {
			s.kind = shapeInt
		}
	}
	return s
}

func isInt(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uint64
}

func addFields(s *shape, t reflect.Type, d int, depth map[string]int, seen map[reflect.Type]*shape) {
	for k := range t.NumField() {
		f := t.Field(k)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(s, ft, d+1, depth, seen)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if old, ok := depth[name]; ok && old <= d {
			continue // a shallower field of the same name wins, as in encoding/json
		}
		depth[name] = d
		s.fields[name] = shapeOf(f.Type, seen)
	}
}

// Check parses body with Python's grammar and refuses what would make Go read it differently:
// a repeated key in any object, a key in an object decoding into a struct that is not a field
// name but equals one under case folding ("STATUS", "ſtatus"), an unpaired surrogate in any
// string (Go reads U+FFFD, Python keeps it), a non-integer or out-of-range number in an integer
// field, a non-finite number anywhere (NaN, Infinity, 1e400). Invalid JSON and UTF-8, nesting beyond MaxDepth and over-long integers fail the parse.
// Errors carry byte offsets, never content.
func (s *Schema) Check(body []byte) error {
	c := canonPool.Get().(*canonicalizer)
	defer c.release()
	if len(body) > MaxBodySize {
		return fmt.Errorf("%w: body larger than %d bytes", ErrInvalidJSON, MaxBodySize)
	}
	if err := c.parse(body); err != nil {
		return err
	}
	_, err := c.check(0, s.root)
	return err
}

// check validates the subtree at i against sh (nil: no expectation) and returns the next index.
func (c *canonicalizer) check(i int32, sh *shape) (int32, error) {
	n := &c.tape[i]
	switch n.kind() {
	case kindString:
		if err := c.checkString(n); err != nil {
			return 0, err
		}
		if sh != nil && sh.kind == shapeInt && !c.intString(n) {
			return 0, fmt.Errorf("%w at offset %d", ErrNumberRange, n.start)
		}
		return i + 1, nil
	case kindInt, kindFloat:
		lit := c.b[n.start:n.end]
		if sh != nil && sh.kind == shapeInt && !exactInt(lit) || n.kind() == kindFloat && !finite(lit) {
			return 0, fmt.Errorf("%w at offset %d", ErrNumberRange, n.start)
		}
		return i + 1, nil
	case kindNaN, kindInf, kindNegInf: // Python reads them, Go's encoding/json does not
		return 0, fmt.Errorf("%w at offset %d", ErrNumberRange, n.start)
	case kindArray:
		var elem *shape
		if sh != nil && sh.kind == shapeList {
			elem = sh.elem
		}
		j := i + 1
		for k := int32(0); k < n.count(); k++ {
			var err error
			if j, err = c.check(j, elem); err != nil {
				return 0, err
			}
		}
		return j, nil
	case kindObject:
		if n.is(flagUnsorted) {
			if err := c.checkUnique(i, n); err != nil {
				return 0, err
			}
		}
		j := i + 1
		for k := int32(0); k < n.count(); k++ {
			key := &c.tape[j]
			if err := c.checkString(key); err != nil {
				return 0, err
			}
			var child *shape
			if sh != nil {
				switch sh.kind {
				case shapeMap:
					child = sh.elem
				case shapeStruct:
					name := c.key(j)
					var ok bool
					if child, ok = sh.fields[string(name)]; !ok {
						for _, f := range sh.names {
							if bytes.EqualFold(name, []byte(f)) {
								return 0, fmt.Errorf("%w at offset %d", ErrKeyFold, key.start)
							}
						}
					}
				}
			}
			var err error
			if j, err = c.check(j+1, child); err != nil {
				return 0, err
			}
		}
		return j, nil
	default:
		return i + 1, nil
	}
}

// checkUnique refuses an object (not in strictly increasing key order) with a repeated key.
func (c *canonicalizer) checkUnique(i int32, n *node) error {
	base := len(c.keys)
	defer func() { c.keys = c.keys[:base] }()
	j := i + 1
	for k := int32(0); k < n.count(); k++ {
		c.keys = append(c.keys, j)
		j = c.next(j + 1)
	}
	keys := c.keys[base:]
	slices.SortFunc(keys, func(a, b int32) int { return bytes.Compare(c.key(a), c.key(b)) })
	for k := 1; k < len(keys); k++ {
		if bytes.Equal(c.key(keys[k-1]), c.key(keys[k])) {
			return fmt.Errorf("%w at offset %d", ErrDuplicateKey, c.tape[keys[k]].start)
		}
	}
	return nil
}

// checkString refuses a string holding an unpaired surrogate, raw (Python's surrogatepass) or
// escaped.
func (c *canonicalizer) checkString(n *node) error {
	if n.is(flagSurrogate) || n.is(flagEscaped) && hasLoneSurrogate(c.b[n.start+1:n.end-1]) {
		return fmt.Errorf("%w at offset %d", ErrLoneSurrogate, n.start)
	}
	return nil
}

// hasLoneSurrogate reports whether the validated string content escapes an unpaired surrogate.
func hasLoneSurrogate(raw []byte) bool {
	for {
		k := bytes.IndexByte(raw, '\\')
		if k < 0 {
			return false
		}
		esc := raw[k+1]
		raw = raw[k+2:]
		if esc != 'u' {
			continue
		}
		r := hex4(raw)
		raw = raw[4:]
		if utf16.IsSurrogate(r) {
			if _, ok := lowSurrogate(r, raw); !ok {
				return true
			}
			raw = raw[6:]
		}
	}
}

// intString reports whether a string in an integer field is absent of meaning or an exact
// integer: internal/didit reads numeric strings there.
func (c *canonicalizer) intString(n *node) bool {
	raw := c.b[n.start+1 : n.end-1]
	if n.is(flagEscaped) {
		raw = decodeString(nil, raw)
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
		return true // not a number at all: the decoder refuses it itself
	}
	return exactInt(raw)
}

// finite reports whether a float literal stays finite (1e400 is Python's inf, Go's error).
func finite(lit []byte) bool {
	f, err := strconv.ParseFloat(string(lit), 64)
	return err == nil && !math.IsInf(f, 0)
}

// exactInt reports whether a number literal is a whole value of magnitude below maxExactInt.
func exactInt(lit []byte) bool {
	f, err := strconv.ParseFloat(string(lit), 64)
	return err == nil && f == math.Trunc(f) && math.Abs(f) < maxExactInt
}
