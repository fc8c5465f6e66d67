package webhook

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

// fakeTB records a fatal failure instead of stopping the goroutine, so the helper's failure path can be
// asserted. The embedded nil TB panics if the helper calls anything else, which would also fail the test.
type fakeTB struct {
	testing.TB
	failed []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Fatal(args ...any) { f.failed = append(f.failed, fmt.Sprint(args...)) }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = append(f.failed, fmt.Sprintf(format, args...))
}

// TestFixtureHelper: the testdata helper fails the test on a missing fixture or an empty glob, and its
// embedded copy and its on-disk directory hold the same file.
func TestFixtureHelper(t *testing.T) {
	t.Run("missing name fails the test", func(t *testing.T) {
		tb := &fakeTB{}
		assert.Nil(t, testdata.Read(tb, "webhooks/no_such_fixture.json"))
		require.Len(t, tb.failed, 1)
		assert.Contains(t, tb.failed[0], "webhooks/no_such_fixture.json")
	})
	t.Run("glob matching nothing fails the test", func(t *testing.T) {
		tb := &fakeTB{}
		assert.Empty(t, testdata.Glob(tb, "webhooks/*.nothing"))
		require.Len(t, tb.failed, 1)
		assert.Contains(t, tb.failed[0], "matched no fixtures")
	})
	t.Run("embedded and on-disk copies agree", func(t *testing.T) {
		tb := &fakeTB{}
		embedded := testdata.Read(tb, "webhooks/full_v3.json")
		require.Empty(t, tb.failed)
		require.NotEmpty(t, embedded)
		dir := testdata.Dir(tb, "webhooks")
		require.True(t, filepath.IsAbs(dir), dir)
		onDisk, err := os.ReadFile(filepath.Join(dir, "full_v3.json"))
		require.NoError(t, err)
		assert.Equal(t, onDisk, embedded)
		assert.Contains(t, testdata.Glob(tb, "webhooks/*.json"), "webhooks/full_v3.json")
		assert.Empty(t, tb.failed)
	})
}
