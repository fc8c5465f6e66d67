package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommittedDataIsGenerated: the committed training data of the default model is what
// gendata writes, so the model's README claim can be checked by anyone.
func TestCommittedDataIsGenerated(t *testing.T) {
	out := filepath.Join(t.TempDir(), "synthetic.csv")
	var stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-n", "3000", "-seed", "1", "-out", out}, &stderr))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	want, err := os.ReadFile("../data/synthetic.csv")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "internal/model/train/data/synthetic.csv is not gendata -n 3000 -seed 1")
	assert.Contains(t, stderr.String(), "rows written")

	assert.Error(t, run(context.Background(), nil, &stderr), "-out is required")
}
