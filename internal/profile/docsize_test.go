package profile

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// docSize is one stored document measured the way Firestore accounts storage
// (https://cloud.google.com/firestore/docs/storage-size): the document name's size, every
// field name's and value's size, and 32 bytes. Fields counts every named field at any depth
// (map entries: each is a path Firestore indexes unless exempted); an array is one field.
type docSize struct {
	Bytes  int
	Fields int
}

func (d docSize) add(o docSize) docSize { return docSize{d.Bytes + o.Bytes, d.Fields + o.Fields} }

// measureDoc measures a document read back (snapshot.Data()) whose path below
// ".../documents/" is path.
func measureDoc(path string, data map[string]any) docSize {
	if _, rest, ok := strings.Cut(path, "/documents/"); ok {
		path = rest
	}
	n := 16 // the name: every collection and document id as a string, plus 16
	for _, seg := range strings.Split(path, "/") {
		n += len(seg) + 1
	}
	b, f := measureMap(data)
	return docSize{Bytes: n + b + 32, Fields: f}
}

func measureMap(m map[string]any) (bytes, fields int) {
	for k, v := range m {
		b, f := measureValue(v)
		bytes += len(k) + 1 + b
		fields += 1 + f
	}
	return bytes, fields
}

func measureValue(v any) (bytes, fields int) {
	switch v := v.(type) {
	case nil, bool:
		return 1, 0
	case string:
		return len(v) + 1, 0
	case []byte:
		return len(v) + 1, 0
	case []any:
		for _, e := range v {
			b, f := measureValue(e)
			bytes, fields = bytes+b, fields+f
		}
		return bytes, fields
	case map[string]any:
		return measureMap(v)
	default: // int64, float64, time.Time
		return 8, 0
	}
}

// TestMeasureDocMatchesFirestoresExample: the worked example of Firestore's storage-size page,
// a task document of 147 bytes.
func TestMeasureDocMatchesFirestoresExample(t *testing.T) {
	got := measureDoc("projects/p/databases/(default)/documents/users/jeff/tasks/my_task_id", map[string]any{
		"type": "Personal", "done": false, "priority": int64(1), "description": "Learn Cloud Firestore",
	})
	assert.Equal(t, docSize{Bytes: 147, Fields: 4}, got)
	nested := measureDoc("a/b", map[string]any{"m": map[string]any{"t": time.Time{}, "l": []any{"x", nil}}})
	assert.Equal(t, docSize{Bytes: 16 + 2 + 2 + (2 + (2 + 8) + (2 + 2 + 1)) + 32, Fields: 3}, nested)
}
