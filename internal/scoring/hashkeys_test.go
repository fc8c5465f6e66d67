package scoring

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHashKeyRotation: adding a key changes the hash new documents get, but every stored hash
// stays reachable: the old key's hash is among All's.
func TestHashKeyRotation(t *testing.T) {
	before, err := NewKeyedHasher([]HashKey{{ID: "", Secret: []byte("original")}})
	require.NoError(t, err)
	after, err := NewKeyedHasher([]HashKey{{ID: "k2", Secret: []byte("rotated")}, {ID: "", Secret: []byte("original")}})
	require.NoError(t, err)

	stored := before.Hash("X1234567K")
	assert.Equal(t, NewHasher([]byte("original"))("X1234567K"), stored, "the unprefixed key hashes as HASH_KEY always did")
	now := after.Hash("X1234567K")
	assert.NotEqual(t, stored, now)
	assert.Regexp(t, `^k2:[0-9a-f]{32}$`, now)
	assert.Equal(t, []string{now, stored}, after.All("X1234567K"))
	assert.NotContains(t, after.All("X1234567L"), stored)

	w := decode(t, `{"status":"Approved","decision":{
		"id_verifications":[{"document_number":""},{"document_number":"x-123 4567/k"}],
		"ip_analyses":[{"device_fingerprint":"fp1"},{"device_fingerprint":"fp1"},{"device_fingerprint":"fp2"}]}}`)
	doc, devs := after.Aliases(w)
	assert.Equal(t, after.All("X1234567K"), doc)
	assert.Equal(t, [][]string{after.All("fp1"), after.All("fp2")}, devs)
	s := Extract(w, after.Hash)
	assert.Equal(t, doc[0], s.DocumentHash, "Extract hashes under the current key")
	assert.ElementsMatch(t, []string{devs[0][0], devs[1][0]}, s.DeviceHashes)
	d, dv := after.Aliases(nil)
	assert.Nil(t, d)
	assert.Nil(t, dv)
}

func TestNewKeyedHasherRefuses(t *testing.T) {
	for name, keys := range map[string][]HashKey{
		"none":         nil,
		"empty secret": {{ID: "k1"}},
		"bad id":       {{ID: "k:1", Secret: []byte("s")}},
		"long id":      {{ID: "abcdefghijklmnopq", Secret: []byte("s")}},
		"duplicate id": {{ID: "k1", Secret: []byte("a")}, {ID: "k1", Secret: []byte("b")}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewKeyedHasher(keys)
			assert.Error(t, err)
		})
	}
}

// ValidKeyID is the one rule for a key id, which configuration (HASH_KEYS) applies too.
func TestValidKeyID(t *testing.T) {
	for id, want := range map[string]bool{
		"": true, "k2": true, "2026-12_a": true, "abcdefghijklmnop": true,
		"abcdefghijklmnopq": false, "k:2": false, "k 2": false, "k/2": false, "é": false,
	} {
		assert.Equal(t, want, ValidKeyID(id), id)
	}
}
