package scoring

import (
	"errors"
	"fmt"
	"slices"

	"github.com/riskwire/didit-risk/internal/didit"
)

// HashKey is one HMAC key of a rotation, with the id stored beside every hash made with it.
type HashKey struct {
	ID     string // KeyIDRule; "" for the original unprefixed key (HASH_KEY)
	Secret []byte
}

// Hasher hashes under a list of keys, current first. A new secret version therefore never
// silently changes every stored hash: hashes are stored as "id:hex" (plain hex for the key with
// the empty id), and a returning user still matches under the older keys (All), while new
// hashes are made with the current one (Hash). Safe for concurrent use.
type Hasher struct {
	ids    []string
	hashes []func(string) string
}

// NewKeyedHasher returns a Hasher over keys, current first. Ids must be distinct and secrets
// non-empty.
func NewKeyedHasher(keys []HashKey) (*Hasher, error) {
	if len(keys) == 0 {
		return nil, errors.New("hash keys: none given")
	}
	h := &Hasher{}
	for _, k := range keys {
		if len(k.Secret) == 0 {
			return nil, fmt.Errorf("hash keys: key %q has an empty secret", k.ID)
		}
		if !ValidKeyID(k.ID) {
			return nil, fmt.Errorf("hash keys: id %q is not %s", k.ID, KeyIDRule)
		}
		if slices.Contains(h.ids, k.ID) {
			return nil, fmt.Errorf("hash keys: id %q given twice", k.ID)
		}
		h.ids = append(h.ids, k.ID)
		h.hashes = append(h.hashes, NewHasher(k.Secret))
	}
	return h, nil
}

// KeyIDRule is what a hash key id may be: it is stored before every hash made with the key
// ("id:hex"), so it must never contain the separator.
const KeyIDRule = "0-16 of A-Z a-z 0-9 _ - (empty: the unprefixed HASH_KEY)"

// ValidKeyID reports whether id follows KeyIDRule. The one check: configuration and the hasher
// both use it.
func ValidKeyID(id string) bool {
	if len(id) > 16 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func (h *Hasher) under(i int, s string) string {
	if h.ids[i] == "" {
		return h.hashes[i](s)
	}
	return h.ids[i] + ":" + h.hashes[i](s)
}

// Hash hashes s under the current key; it is the hash function Extract takes.
func (h *Hasher) Hash(s string) string { return h.under(0, s) }

// All hashes s under every key, current first.
func (h *Hasher) All(s string) []string {
	out := make([]string, len(h.ids))
	for i := range h.ids {
		out[i] = h.under(i, s)
	}
	return out
}

// Aliases returns the hashes, under every key (current first), of the document and the devices
// Extract hashes for w: the document first in the webhook with a number, and each distinct
// device fingerprint. The profile matches a returning user's document or device under any of
// them (profile.Event.DocumentKeys and DeviceKeys).
func (h *Hasher) Aliases(w *didit.Webhook) (document []string, devices [][]string) {
	if w == nil || w.Decision == nil {
		return nil, nil
	}
	for _, it := range w.Decision.IDVerifications {
		if n := normalizeDocumentNumber(it.DocumentNumber); n != "" {
			document = h.All(n)
			break
		}
	}
	var seen []string
	for _, it := range w.Decision.IPAnalyses {
		if fp := it.DeviceFingerprint; fp != "" && !slices.Contains(seen, fp) {
			seen = append(seen, fp)
			devices = append(devices, h.All(fp))
		}
	}
	return document, devices
}
