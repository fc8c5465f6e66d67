package scorer

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
