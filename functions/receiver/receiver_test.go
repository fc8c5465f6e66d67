package receiver

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewNamesEveryMissingVariable(t *testing.T) {
	_, _, err := New(context.Background(), func(string) string { return "" }, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing DIDIT_WEBHOOK_SECRET, GOOGLE_CLOUD_PROJECT")
}
