package scoring

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// NewHasher returns the keyed hash Extract wants: hex HMAC-SHA256 under key, cut to 128 bits.
// A plain hash of a document number could be reversed by trying every number; with a secret
// key it cannot, yet equal inputs still give equal hashes, so documents and devices can be
// counted per user. Safe for concurrent use.
func NewHasher(key []byte) func(string) string {
	key = append([]byte(nil), key...)
	pool := sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	return func(s string) string {
		h := pool.Get().(hash.Hash)
		h.Reset()
		h.Write([]byte(s))
		var sum [sha256.Size]byte
		out := hex.EncodeToString(h.Sum(sum[:0])[:16])
		pool.Put(h)
		return out
	}
}
