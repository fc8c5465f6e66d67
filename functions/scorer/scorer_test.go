package scorer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/model"
	"github.com/riskwire/didit-risk/testdata"
)

func TestStartRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set", nil, []string{"missing GOOGLE_CLOUD_PROJECT, HASH_KEY"}},
		{"invalid policy names the rule and CEL's message", map[string]string{
			"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k", "POLICY_FILE": testdata.Dir(t, "policy", "invalid_cel.yaml"),
		}, []string{"misspelt_signal", "undeclared reference", "liveness_scor"}},
		{"policy file missing", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k", "POLICY_FILE": "nope.yaml"},
			[]string{"nope.yaml"}},
		{"invalid shadow policy names the variable, the rule and CEL's message", map[string]string{
			"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k", "SHADOW_POLICY_FILE": testdata.Dir(t, "policy", "invalid_cel.yaml"),
		}, []string{"SHADOW_POLICY_FILE", "misspelt_signal", "undeclared reference", "liveness_scor"}},
		{"shadow policy file missing", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k", "SHADOW_POLICY_FILE": "candidate.yaml"},
			[]string{"SHADOW_POLICY_FILE", "candidate.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := New(context.Background(), func(k string) string { return tt.env[k] }, io.Discard)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// modelCopy writes the embedded default model and its header to a temporary directory, the
// header passed through edit, and returns the model's path.
func modelCopy(t *testing.T, editModel func([]byte) []byte, editHeader func(hdr map[string]any, raw []byte)) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "internal", "model", "testdata", "default.model"))
	require.NoError(t, err)
	hb, err := os.ReadFile(filepath.Join("..", "..", "internal", "model", "testdata", "default.model.json"))
	require.NoError(t, err)
	var hdr map[string]any
	require.NoError(t, json.Unmarshal(hb, &hdr))
	if editModel != nil {
		raw = editModel(raw)
	}
	if editHeader != nil {
		editHeader(hdr, raw)
	}
	hb, err = json.Marshal(hdr)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.model")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	require.NoError(t, os.WriteFile(path+".json", hb, 0o600))
	return path
}

// TestStartRefusesBadModel: MODEL_FILE naming a corrupt model, or one trained for another
// feature version, stops the start with the model package's error.
func TestStartRefusesBadModel(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		is    error
		wants []string
	}{
		{"another feature version", modelCopy(t, nil, func(h map[string]any, _ []byte) { h["feature_version"] = model.FeatureVersion + 1 }),
			model.ErrFeatureVersion, []string{"MODEL_FILE", "trained for feature version", "retrain"}},
		{"another feature list", modelCopy(t, nil, func(h map[string]any, _ []byte) {
			f := h["features"].([]any)
			f[0], f[1] = f[1], f[0]
		}), model.ErrFeatureVersion, []string{"lists features"}},
		{"altered model file", modelCopy(t, func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, nil),
			model.ErrCorrupt, []string{"SHA-256"}},
		{"truncated model, checksum to match", func() string {
			return modelCopy(t, func(b []byte) []byte { return b[:len(b)/3] }, func(h map[string]any, raw []byte) {
				sum := sha256.Sum256(raw)
				h["model_sha256"] = hex.EncodeToString(sum[:])
			})
		}(), model.ErrCorrupt, []string{"corrupt model", "tree"}},
		{"not a model", func() string {
			p := filepath.Join(t.TempDir(), "x.model")
			require.NoError(t, os.WriteFile(p, []byte("not a model"), 0o600))
			require.NoError(t, os.WriteFile(p+".json", []byte("{"), 0o600))
			return p
		}(), model.ErrCorrupt, []string{"header"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k", "MODEL_FILE": tt.path}
			_, _, err := New(context.Background(), func(k string) string { return env[k] }, io.Discard)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			for _, w := range tt.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k", "MODEL_FILE": "nope.model"}
		_, _, err := New(context.Background(), func(k string) string { return env[k] }, io.Discard)
		assert.ErrorContains(t, err, "nope.model")
	})
}

// TestStartLoadsModel: a well-formed MODEL_FILE, and none (the embedded model), start. The
// clients point at emulator addresses nothing listens on: New does not connect.
func TestStartLoadsModel(t *testing.T) {
	t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
	t.Setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")
	for name, path := range map[string]string{"embedded": "", "file": modelCopy(t, nil, nil)} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k", "MODEL_FILE": path,
				"SHADOW_POLICY_FILE": testdata.Dir(t, "policy", "shadow_block_all.yaml")} // a valid shadow policy starts too
			fn, closeFn, err := New(context.Background(), func(k string) string { return env[k] }, io.Discard)
			require.NoError(t, err)
			require.NotNil(t, fn)
			closeFn()
		})
	}
}
