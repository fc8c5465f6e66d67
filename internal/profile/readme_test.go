package profile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

// readExample is the README's profile-reading example: a module of its own, so that it proves
// product code can read profiles without this module's internal packages. It is built on disk,
// never embedded or imported.
func readExample(t testing.TB) string { return testdata.Dir(t, "readprofile") }

// readmeMarker precedes the README's code block that must equal the example file.
const readmeMarker = "<!-- code: testdata/readprofile/riskread.go -->"

// TestReadExampleBuildsFromAnotherModule builds and tests the example module with its own
// go.mod and committed go.sum (the module proxy from the environment; -mod=readonly, so a
// missing checksum fails instead of being added), and checks it imports nothing of ours.
func TestReadExampleBuildsFromAnotherModule(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(readExample(t), "riskread.go"))
	require.NoError(t, err)
	assert.NotContains(t, string(src), "riskwire/didit-risk", "product code cannot import this module's internal packages")
	cmd := exec.Command(goBin, "test", "-mod=readonly", "-count=1", "./...")
	cmd.Dir = readExample(t)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// TestReadmeShowsTheExample: every README that carries the marker shows the example file
// verbatim, and at least one does.
func TestReadmeShowsTheExample(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(readExample(t), "riskread.go"))
	require.NoError(t, err)
	found := 0
	for _, name := range []string{"README.md"} {
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		text := string(b)
		i := strings.Index(text, readmeMarker)
		if i < 0 {
			continue
		}
		found++
		rest := text[i+len(readmeMarker):]
		start := strings.Index(rest, "```go\n")
		require.GreaterOrEqual(t, start, 0, "%s: a ```go block follows the marker", name)
		rest = rest[start+len("```go\n"):]
		end := strings.Index(rest, "```")
		require.GreaterOrEqual(t, end, 0, "%s: the block ends", name)
		assert.Equal(t, string(want), rest[:end], "%s: the code block equals testdata/readprofile/riskread.go", name)
	}
	assert.Positive(t, found, "no README shows the example (marker %q)", readmeMarker)
}
