// Package testdata is the one home for the module's test fixtures: tests read them through Read (or FS)
// instead of relative ../../testdata paths, so a test does not depend on its package's depth. Tests that need
// a real file on disk (a script to exec, a directory to hand a builder, a golden file to rewrite) use Dir.
//
// The go tool skips testdata directories in ./... patterns, so this package is only built when a test
// imports it. testdata/readprofile is a separate module and is neither embedded nor imported here.
package testdata

import (
	"embed"
	"io/fs"
	"path/filepath"
	"runtime"
	"testing"
)

// FS holds every fixture the tests read, by path relative to testdata/ (e.g. "webhooks/full_v3.json").
//
//go:embed webhooks/*.json signatures/*.json scoring/cases/*.json scoring/payloads/*.json policy/*.yaml diditsim/*.json
var FS embed.FS

// Read returns the named fixture (slash-separated, relative to testdata/) and fails the test if it is missing.
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := fs.ReadFile(FS, name)
	if err != nil {
		tb.Fatalf("testdata: read fixture %q: %v", name, err)
		return nil
	}
	return b
}

// Glob returns the embedded fixture names matching pattern (fs.Glob syntax, relative to testdata/) and fails
// the test on a malformed pattern or when nothing matches, so a renamed directory cannot empty a table test.
func Glob(tb testing.TB, pattern string) []string {
	tb.Helper()
	names, err := fs.Glob(FS, pattern)
	if err != nil {
		tb.Fatalf("testdata: glob %q: %v", pattern, err)
		return nil
	}
	if len(names) == 0 {
		tb.Fatalf("testdata: glob %q matched no fixtures", pattern)
	}
	return names
}

// root is this package's directory on disk, taken from its own source location so it is right from any
// test's working directory.
var root = func() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Dir(file)
}()

// Dir returns the absolute on-disk path of testdata/ joined with elem, for tests that need a real path.
func Dir(tb testing.TB, elem ...string) string {
	tb.Helper()
	if root == "" {
		tb.Fatal("testdata: cannot locate the testdata directory (no caller information)")
		return ""
	}
	return filepath.Join(append([]string{root}, elem...)...)
}
