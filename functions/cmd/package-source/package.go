// Command package-source writes the source archive that Terraform uploads for the
// three Cloud Run functions (make package):
//
//	go run ./functions/cmd/package-source -out build/source.zip [-policy path/to/policy.yaml]
//
// Google's Go buildpack (runtime go126) builds the Go package at the root of
// the uploaded source: it blank-imports that package from a generated main
// and serves the function named by the deployment's entry point. This
// repository has no root package, so the archive gets a generated one
// (diditrisk.go, package diditrisk) that imports the three function packages.
// It must also import the Functions Framework's functions package itself:
// the buildpack reads the root package's imports and uses its declarative
// main (blank import, funcframework.Start) only when that import is there;
// otherwise it generates a main that calls diditrisk.<EntryPoint>, which
// does not exist.
//
// The archive holds go.mod, go.sum, the generated root package, the non-test
// Go files (and embedded files) of every package of this module that the
// function packages import, and the policy files given with -policy, at
// their repository paths. Nothing else: no tests, testdata, terraform/ or
// emulator/ unless a function imports them. Entries are sorted and carry a
// fixed time, so unchanged sources give a byte-identical archive (Terraform
// names the uploaded object by its hash and redeploys only on change).
package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"
)

// Functions are the function packages (under functions/) and the entry
// points they register.
var Functions = map[string]string{
	"receiver": "Receiver",
	"scorer":   "Scorer",
	"stepup":   "StepUp",
}

const (
	// RootPackageFile is the generated root package's file name.
	RootPackageFile = "diditrisk.go"
	// RootPackageName is its package name.
	RootPackageName = "diditrisk"
	// FrameworkFunctionsPackage must be imported by the root package for the
	// buildpack to generate its declarative main.
	FrameworkFunctionsPackage = "github.com/GoogleCloudPlatform/functions-framework-go/functions"
)

// entryTime is every entry's modification time: a fixed one keeps archives
// reproducible.
var entryTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Options says what to package.
type Options struct {
	Root      string   // module root (holds go.mod)
	Out       string   // archive to write
	Functions []string // function package names under functions/; all of Functions when empty
	Policies  []string // extra files, relative to Root, e.g. the scoring policy
	Stderr    io.Writer
}

// Result describes a written archive.
type Result struct {
	Files  []string // entry names, sorted
	SHA256 string
	Bytes  int64
}

func main() {
	var opts Options
	var policies, fns stringList
	flag.StringVar(&opts.Root, "root", ".", "module root (holds go.mod)")
	flag.StringVar(&opts.Out, "out", "build/source.zip", "archive to write")
	flag.Var(&policies, "policy", "file to include, relative to -root (repeatable)")
	flag.Var(&fns, "function", "function package under functions/ to include (repeatable; default: receiver, scorer, stepup)")
	flag.Parse()
	opts.Policies, opts.Functions, opts.Stderr = policies, fns, os.Stderr

	res, err := Package(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "package-source:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d files, %d bytes, sha256 %s\n", opts.Out, len(res.Files), res.Bytes, res.SHA256)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Package writes the archive.
func Package(opts Options) (*Result, error) {
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, err
	}
	fns := opts.Functions
	if len(fns) == 0 {
		for name := range Functions {
			fns = append(fns, name)
		}
	}
	sort.Strings(fns)
	for _, name := range fns {
		if _, ok := Functions[name]; !ok {
			return nil, fmt.Errorf("unknown function package %q", name)
		}
	}

	mod, err := mainModule(root)
	if err != nil {
		return nil, err
	}
	if err := noRootPackage(root); err != nil {
		return nil, err
	}

	pkgs := make([]string, len(fns))
	for i, name := range fns {
		pkgs[i] = mod + "/functions/" + name
	}
	files, err := moduleFiles(root, pkgs)
	if err != nil {
		return nil, err
	}

	entries := map[string][]byte{}
	for _, name := range append([]string{"go.mod", "go.sum"}, files...) {
		if entries[name], err = os.ReadFile(filepath.Join(root, filepath.FromSlash(name))); err != nil {
			return nil, err
		}
	}
	for _, p := range opts.Policies {
		name, err := relativeInside(root, p)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", p, err)
		}
		if entries[name], err = os.ReadFile(filepath.Join(root, filepath.FromSlash(name))); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
	}
	if entries[RootPackageFile], err = RootPackage(pkgs); err != nil {
		return nil, err
	}
	return writeZip(opts.Out, entries)
}

var rootTemplate = template.Must(template.New("root").Parse(`// Code generated by functions/cmd/package-source; DO NOT EDIT.

// Package {{.Name}} is the root package of the uploaded function source.
// Google's Go buildpack builds the package at the source root: its generated
// main blank-imports this package, so the imports below register every
// function in their init(), and serves the one named by FUNCTION_TARGET.
// The functions import makes the buildpack choose that declarative main.
package {{.Name}}

import (
	_ "{{.Framework}}"
{{range .Packages}}
	_ "{{.}}"{{end}}
)
`))

// RootPackage renders the generated root package for the given function
// packages (full import paths).
func RootPackage(pkgs []string) ([]byte, error) {
	var b bytes.Buffer
	err := rootTemplate.Execute(&b, struct {
		Name, Framework string
		Packages        []string
	}{RootPackageName, FrameworkFunctionsPackage, pkgs})
	return b.Bytes(), err
}

// mainModule returns the module path of root/go.mod, checking root is its directory.
func mainModule(root string) (string, error) {
	out, err := goCmd(root, "list", "-m", "-json")
	if err != nil {
		return "", err
	}
	var m struct{ Path, Dir string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("go list -m: %w", err)
	}
	if filepath.Clean(m.Dir) != filepath.Clean(root) {
		return "", fmt.Errorf("%s is not a module root (module %s is in %s)", root, m.Path, m.Dir)
	}
	return m.Path, nil
}

// noRootPackage fails if the repository root has Go files of its own: the
// generated package would clash with them.
func noRootPackage(root string) error {
	matches, err := filepath.Glob(filepath.Join(root, "*.go"))
	if err != nil {
		return err
	}
	if len(matches) > 0 {
		return fmt.Errorf("the module root has Go files (%s): the generated root package would clash with them", filepath.Base(matches[0]))
	}
	return nil
}

type listedPackage struct {
	ImportPath string
	Dir        string
	Module     *struct{ Main bool }
	Error      *struct{ Err string }

	GoFiles, CgoFiles, IgnoredGoFiles           []string
	CFiles, CXXFiles, HFiles, SFiles, SysoFiles []string
	EmbedFiles                                  []string
}

// moduleFiles lists, relative to root with slashes, the files of every
// package of the main module that pkgs need to build: non-test Go files
// (including those other platforms' build constraints select), other
// compiled sources, and embedded files.
func moduleFiles(root string, pkgs []string) ([]string, error) {
	args := append([]string{"list", "-deps", "-json=ImportPath,Dir,Module,Error,GoFiles,CgoFiles,IgnoredGoFiles,CFiles,CXXFiles,HFiles,SFiles,SysoFiles,EmbedFiles"}, pkgs...)
	out, err := goCmd(root, args...)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		dir, err := relativeInside(root, p.Dir)
		if err != nil {
			return nil, err
		}
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.IgnoredGoFiles, p.CFiles, p.CXXFiles, p.HFiles, p.SFiles, p.SysoFiles, p.EmbedFiles} {
			for _, f := range list {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				seen[path.Join(dir, filepath.ToSlash(f))] = true
			}
		}
	}
	files := make([]string, 0, len(seen))
	for f := range seen {
		files = append(files, f)
	}
	sort.Strings(files)
	return files, nil
}

// relativeInside returns p (absolute, or relative to root) relative to root,
// with slashes, and fails if it is outside root.
func relativeInside(root, p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return "", err
	}
	if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside %s", p, root)
	}
	return filepath.ToSlash(rel), nil
}

func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...) // #nosec G204 -- the go tool with arguments fixed in this file
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// writeZip writes entries, sorted by name with fixed metadata, to out
// (atomically).
func writeZip(out string, entries map[string][]byte) (*Result, error) {
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: entryTime}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(entries[name]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
		return nil, err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return &Result{Files: names, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(buf.Len())}, nil
}
