// Command genschema generates schema/google.json, the schema subset the
// stand-in provider serves, from the npm package @cdktf/provider-google, which
// cdktf generated from the real hashicorp/google provider schema.
//
// Usage (see ../../gen-schema.sh, which fetches the package):
//
//	genschema -pkg DIR -config ../.. -out schema/google.json
//
// DIR is the unpacked npm package (the folder holding .jsii and lib/). The
// resource and data source types to extract are the google_* types that the
// *.tf files under -config declare, so the subset follows the configuration.
//
// # How cdktf encodes the provider schema
//
// The .jsii manifest (JSON) describes, for every resource and data source, a
// class (base cdktf.TerraformResource or cdktf.TerraformDataSource) whose docs
// link names the Terraform type, and a Config interface (the initializer's
// config parameter):
//
//   - Config properties are the arguments. A property without "optional" is a
//     required argument; with it, optional. The exception cdktf marks is id,
//     whose docs say it "might not be settable": it is optional and computed
//     (cdktf marks a nested block's required id the same way; that one stays
//     required).
//   - A property typed by a struct interface (a bare fqn) is a nested block
//     with at most one item; typed as IResolvable | array of a struct, a
//     repeatable block. A required block property means at least one item.
//   - Nested structs have the same shape, recursively.
//   - Class properties (getters) that are read-only, not named *Input, and not
//     arguments are computed-only attributes. A getter returning a cdktf
//     ComplexList is a computed list of objects whose attributes are the
//     getters of the matching *OutputReference class; cdktf.StringMap is
//     map(string), and so on.
//   - Primitive types map directly; boolean | IResolvable is bool; arrays are
//     lists, maps are maps.
//
// What the .jsii does not say, the compiled lib/<resource>/index.js of the
// same package does (and nothing else is read from it):
//
//   - the Terraform (snake_case) name of each property: the HCL synthesizers
//     (synthesizeHclAttributes, fooToHclTerraform) key every argument by its
//     Terraform name, and getters read attributes by it;
//   - list versus set (jsii types both as arrays): the synthesizers say
//     type: "list" / "set" / "struct" (a single nested block, as timeouts is),
//     computed set getters wrap the value in Fn.tolist, and computed complex
//     lists are created with wrapsSet true.
//
// Not encoded anywhere in the package, hence not in the output: whether an
// optional argument is also computed (except id), sensitivity, deprecation,
// conflicts and exactly-one-of rules, value validations.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/riskwire/didit-risk/terraform/standin-provider/internal/tfschema"
)

const (
	assembly         = "@cdktf/provider-google"
	providerClassFqn = assembly + ".provider.GoogleProvider"
	settableMark     = "might not be settable"
)

func main() {
	pkg := flag.String("pkg", "", "unpacked @cdktf/provider-google npm package (holds .jsii and lib/)")
	configDir := flag.String("config", "", "folder whose *.tf files name the types to extract")
	out := flag.String("out", "schema/google.json", "output file")
	source := flag.String("source", assembly, "text recorded as the schema's source")
	flag.Parse()
	if *pkg == "" || *configDir == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*pkg, *configDir, *out, *source); err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
}

func run(pkg, configDir, out, source string) error {
	resTypes, dataTypes, err := typesInConfig(configDir)
	if err != nil {
		return err
	}
	m, err := loadManifest(filepath.Join(pkg, ".jsii"))
	if err != nil {
		return err
	}
	g := &generator{pkg: pkg, m: m, js: map[string]*jsFile{}}

	file := &tfschema.File{
		Source:      source,
		Resources:   map[string]*tfschema.Block{},
		DataSources: map[string]*tfschema.Block{},
	}
	if file.Provider, file.Version, err = g.providerVersion(); err != nil {
		return err
	}
	if file.ProviderConfig, err = g.topLevel(providerClassFqn); err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	delete(file.ProviderConfig.Attributes, "alias") // a meta-argument, handled by Terraform itself

	index := g.typeIndex()
	for _, want := range []struct {
		names []string
		kind  string
		into  map[string]*tfschema.Block
	}{{resTypes, "resources", file.Resources}, {dataTypes, "data-sources", file.DataSources}} {
		for _, name := range want.names {
			fqn, ok := index[want.kind+"/"+name]
			if !ok {
				return fmt.Errorf("%s %s: not in %s", want.kind, name, assembly)
			}
			b, err := g.topLevel(fqn)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			want.into[name] = b
		}
	}

	data, err := json.MarshalIndent(file, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(data, '\n'), 0o644)
}

var declRE = regexp.MustCompile(`^\s*(resource|data)\s+"(google[a-z0-9_]*)"`)

// typesInConfig lists the google_* resource and data source types declared in
// dir/*.tf. (The negative tests under tests/negative use these types too, or
// misspell them on purpose.)
func typesInConfig(dir string) (resources, data []string, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, nil, err
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no *.tf files in %s", dir)
	}
	seen := map[string]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, nil, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			m := declRE.FindStringSubmatch(sc.Text())
			if m == nil || seen[m[1]+m[2]] {
				continue
			}
			seen[m[1]+m[2]] = true
			if m[1] == "resource" {
				resources = append(resources, m[2])
			} else {
				data = append(data, m[2])
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, nil, err
		}
	}
	sort.Strings(resources)
	sort.Strings(data)
	return resources, data, nil
}

// ---- the .jsii manifest ----

type manifest struct {
	Name    string               `json:"name"`
	Version string               `json:"version"`
	Types   map[string]*jsiiType `json:"types"`
}

type jsiiType struct {
	Fqn         string `json:"fqn"`
	Kind        string `json:"kind"` // class, interface, enum
	Base        string `json:"base"`
	Docs        docs   `json:"docs"`
	Initializer *struct {
		Parameters []struct {
			Name string   `json:"name"`
			Type jsiiTRef `json:"type"`
		} `json:"parameters"`
	} `json:"initializer"`
	Location struct {
		Filename string `json:"filename"`
	} `json:"locationInModule"`
	Properties []*jsiiProp `json:"properties"`
}

type docs struct {
	Summary string `json:"summary"`
	Remarks string `json:"remarks"`
}

type jsiiProp struct {
	Name      string   `json:"name"`
	Optional  bool     `json:"optional"`
	Immutable bool     `json:"immutable"`
	Static    bool     `json:"static"`
	Type      jsiiTRef `json:"type"`
	Docs      docs     `json:"docs"`
}

// jsiiTRef is a jsii type reference.
type jsiiTRef struct {
	Primitive  string `json:"primitive,omitempty"`
	Fqn        string `json:"fqn,omitempty"`
	Collection *struct {
		Kind        string   `json:"kind"` // array, map
		ElementType jsiiTRef `json:"elementtype"`
	} `json:"collection,omitempty"`
	Union *struct {
		Types []jsiiTRef `json:"types"`
	} `json:"union,omitempty"`
}

func (r jsiiTRef) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// withoutResolvable drops cdktf.IResolvable from a union: cdktf adds it to
// let a token stand for a value; it says nothing about the Terraform type.
func (r jsiiTRef) withoutResolvable() jsiiTRef {
	if r.Union == nil {
		return r
	}
	var rest []jsiiTRef
	for _, t := range r.Union.Types {
		if t.Fqn != "cdktf.IResolvable" {
			rest = append(rest, t)
		}
	}
	if len(rest) == 1 {
		return rest[0]
	}
	return r
}

func loadManifest(path string) (*manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var m manifest
	if err := json.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Name != assembly {
		return nil, fmt.Errorf("%s: assembly %q, want %q", path, m.Name, assembly)
	}
	return &m, nil
}

// ---- generation ----

type generator struct {
	pkg string
	m   *manifest
	js  map[string]*jsFile // by lib-relative file name
}

var registryLinkRE = regexp.MustCompile(`registry\.terraform\.io/providers/([a-z0-9-]+/[a-z0-9-]+)/([0-9.]+)/docs(?:/(resources|data-sources)/[a-z0-9_]+)? (google[a-z0-9_]*)\}`)

// providerVersion reads the provider source and version from the provider class docs.
func (g *generator) providerVersion() (string, string, error) {
	t := g.m.Types[providerClassFqn]
	if t == nil {
		return "", "", fmt.Errorf("no %s in the manifest", providerClassFqn)
	}
	m := registryLinkRE.FindStringSubmatch(t.Docs.Summary)
	if m == nil {
		return "", "", fmt.Errorf("no registry link in %s docs: %q", providerClassFqn, t.Docs.Summary)
	}
	return m[1], m[2], nil
}

// typeIndex maps "resources/google_x" and "data-sources/google_x" to class fqns.
func (g *generator) typeIndex() map[string]string {
	idx := map[string]string{}
	for fqn, t := range g.m.Types {
		if t.Kind != "class" || (t.Base != "cdktf.TerraformResource" && t.Base != "cdktf.TerraformDataSource") {
			continue
		}
		if m := registryLinkRE.FindStringSubmatch(t.Docs.Summary); m != nil && m[3] != "" {
			idx[m[3]+"/"+m[4]] = fqn
		}
	}
	return idx
}

// topLevel builds the schema of a provider, resource or data source class.
func (g *generator) topLevel(classFqn string) (*tfschema.Block, error) {
	cls := g.m.Types[classFqn]
	if cls == nil || cls.Initializer == nil {
		return nil, fmt.Errorf("class %s not found", classFqn)
	}
	var configFqn string
	for _, p := range cls.Initializer.Parameters {
		if p.Name == "config" {
			configFqn = p.Type.Fqn
		}
	}
	if configFqn == "" {
		return nil, fmt.Errorf("%s: no config parameter", classFqn)
	}
	js, err := g.jsFor(cls)
	if err != nil {
		return nil, err
	}
	c := js.classes[shortName(classFqn)]
	if c == nil || c.hcl == nil {
		return nil, fmt.Errorf("%s: no synthesizeHclAttributes in %s", classFqn, js.name)
	}
	return g.block(configFqn, classFqn, c.hcl, js)
}

// block builds a block from its argument struct (settable properties), the
// class whose getters expose its attributes (for computed-only ones), and
// the HCL synthesizer entries of the struct.
func (g *generator) block(structFqn, classFqn string, hcl map[string]hclEntry, js *jsFile) (*tfschema.Block, error) {
	st := g.m.Types[structFqn]
	if st == nil {
		return nil, fmt.Errorf("struct %s not found", structFqn)
	}
	b := &tfschema.Block{Attributes: map[string]*tfschema.Attribute{}, Blocks: map[string]*tfschema.NestedBlock{}}
	settable := map[string]bool{}
	for _, p := range st.Properties {
		settable[p.Name] = true
		e, ok := hcl[p.Name]
		if !ok {
			return nil, fmt.Errorf("%s.%s: no HCL synthesizer entry", structFqn, p.Name)
		}
		if e.isBlock {
			nb, err := g.nestedBlock(structFqn, p, e, js)
			if err != nil {
				return nil, err
			}
			b.Blocks[e.name] = nb
			continue
		}
		t, err := argType(p.Type, e.kind)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", structFqn, p.Name, err)
		}
		a := &tfschema.Attribute{Type: t, Required: !p.Optional, Optional: p.Optional}
		if p.Optional && strings.Contains(p.Docs.Remarks, settableMark) {
			// cdktf's own mark for optional+computed (id). cdktf puts it on
			// every property named id, also on a nested block's required id
			// (artifact registry's cleanup_policies.id), which stays required:
			// Terraform rejects an attribute both required and computed.
			a.Computed = true
		}
		b.Attributes[e.name] = a
	}

	// Computed-only attributes: read-only getters of the class that are not
	// arguments. The provider's own nested blocks have no such class: cdktf
	// only generates them for resources and data sources.
	cls := g.m.Types[classFqn]
	if cls == nil && strings.HasPrefix(structFqn, assembly+".provider.") {
		cls = &jsiiType{}
	}
	if cls == nil {
		return nil, fmt.Errorf("class %s not found", classFqn)
	}
	jc := js.classes[shortName(classFqn)]
	if jc == nil && cls.Fqn == "" {
		jc = &jsClass{}
	}
	if jc == nil {
		return nil, fmt.Errorf("class %s not in %s", classFqn, js.name)
	}
	for _, p := range computedProps(cls, settable) {
		name, isSet, ok := jc.attrName(p.Name)
		if !ok {
			return nil, fmt.Errorf("%s.%s: no Terraform name in %s", classFqn, p.Name, js.name)
		}
		t, err := g.computedType(p.Type, isSet, jc.getters[p.Name], js)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", classFqn, p.Name, err)
		}
		if _, dup := b.Attributes[name]; dup {
			return nil, fmt.Errorf("%s: %s is both an argument and a computed attribute", classFqn, name)
		}
		b.Attributes[name] = &tfschema.Attribute{Type: t, Computed: true}
	}
	if len(b.Attributes) == 0 {
		b.Attributes = nil
	}
	if len(b.Blocks) == 0 {
		b.Blocks = nil
	}
	return b, nil
}

func (g *generator) nestedBlock(parent string, p *jsiiProp, e hclEntry, js *jsFile) (*tfschema.NestedBlock, error) {
	ref := p.Type.withoutResolvable()
	var elemFqn string
	single := false
	switch {
	case ref.Fqn != "":
		elemFqn, single = ref.Fqn, true
	case ref.Collection != nil && ref.Collection.Kind == "array" && ref.Collection.ElementType.Fqn != "":
		elemFqn = ref.Collection.ElementType.Fqn
	default:
		return nil, fmt.Errorf("%s.%s: block of unexpected type %s", parent, p.Name, p.Type)
	}
	nb := &tfschema.NestedBlock{}
	switch e.kind {
	case "struct":
		nb.Nesting = tfschema.NestingSingle
	case "list":
		nb.Nesting = tfschema.NestingList
	case "set":
		nb.Nesting = tfschema.NestingSet
	default:
		return nil, fmt.Errorf("%s.%s: block of HCL type %q", parent, p.Name, e.kind)
	}
	if nb.Nesting != tfschema.NestingSingle {
		if single {
			nb.MaxItems = 1
		}
		if !p.Optional {
			nb.MinItems = 1
		}
	}
	fn := lowerFirst(shortName(elemFqn))
	hcl, ok := js.structs[fn]
	if !ok {
		return nil, fmt.Errorf("%s.%s: no %sToHclTerraform in %s", parent, p.Name, fn, js.name)
	}
	inner, err := g.block(elemFqn, elemFqn+"OutputReference", hcl, js)
	if err != nil {
		return nil, err
	}
	if inner.Attributes == nil && inner.Blocks == nil {
		inner = &tfschema.Block{}
	}
	nb.Block = inner
	return nb, nil
}

// internalProps are cdktf plumbing, not Terraform attributes.
var internalProps = []string{"internalValue", "terraformAttribute", "terraformResource", "wrapsSet", "fqn", "creationStack"}

// computedProps lists the class's computed-only attribute getters.
func computedProps(cls *jsiiType, settable map[string]bool) []*jsiiProp {
	var out []*jsiiProp
	for _, p := range cls.Properties {
		if p.Static || !p.Immutable || settable[p.Name] || strings.HasSuffix(p.Name, "Input") || slices.Contains(internalProps, p.Name) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// argType is the Terraform type of an argument (a settable attribute).
func argType(r jsiiTRef, hclKind string) (tfschema.Type, error) {
	r = r.withoutResolvable()
	switch {
	case r.Primitive != "":
		return primitive(r.Primitive)
	case r.Collection != nil:
		elem, err := argType(r.Collection.ElementType, "simple")
		if err != nil {
			return tfschema.Type{}, err
		}
		switch {
		case r.Collection.Kind == "map" && hclKind == "map":
			return tfschema.MapOf(elem), nil
		case r.Collection.Kind == "array" && hclKind == "list":
			return tfschema.ListOf(elem), nil
		case r.Collection.Kind == "array" && hclKind == "set":
			return tfschema.SetOf(elem), nil
		}
		return tfschema.Type{}, fmt.Errorf("collection %s with HCL type %q", r, hclKind)
	}
	return tfschema.Type{}, fmt.Errorf("unsupported argument type %s", r)
}

func primitive(p string) (tfschema.Type, error) {
	switch p {
	case "string":
		return tfschema.String, nil
	case "number":
		return tfschema.Number, nil
	case "boolean":
		return tfschema.Bool, nil
	}
	return tfschema.Type{}, fmt.Errorf("unsupported primitive %q", p)
}

// computedType is the Terraform type of a computed-only getter; getter is
// the expression it returns.
func (g *generator) computedType(r jsiiTRef, isSet bool, getter string, js *jsFile) (tfschema.Type, error) {
	if r.Fqn == "cdktf.IResolvable" && strings.HasPrefix(getter, "this.getBooleanAttribute(") {
		return tfschema.Bool, nil // jsii types computed booleans as IResolvable
	}
	r = r.withoutResolvable()
	switch {
	case r.Primitive != "":
		return primitive(r.Primitive)
	case r.Collection != nil:
		elem, err := g.computedType(r.Collection.ElementType, false, "", js)
		if err != nil {
			return tfschema.Type{}, err
		}
		switch {
		case r.Collection.Kind == "map":
			return tfschema.MapOf(elem), nil
		case isSet:
			return tfschema.SetOf(elem), nil
		default:
			return tfschema.ListOf(elem), nil
		}
	}
	switch r.Fqn {
	case "cdktf.StringMap":
		return tfschema.MapOf(tfschema.String), nil
	case "cdktf.NumberMap":
		return tfschema.MapOf(tfschema.Number), nil
	case "cdktf.BooleanMap":
		return tfschema.MapOf(tfschema.Bool), nil
	case "cdktf.StringMapList":
		return tfschema.ListOf(tfschema.MapOf(tfschema.String)), nil
	case "cdktf.NumberMapList":
		return tfschema.ListOf(tfschema.MapOf(tfschema.Number)), nil
	case "cdktf.BooleanMapList":
		return tfschema.ListOf(tfschema.MapOf(tfschema.Bool)), nil
	}
	t := g.m.Types[r.Fqn]
	if t == nil {
		return tfschema.Type{}, fmt.Errorf("unsupported computed type %s", r)
	}
	var elemClass string
	switch {
	case t.Base == "cdktf.ComplexList" && strings.HasSuffix(r.Fqn, "List"):
		elemClass = strings.TrimSuffix(r.Fqn, "List") + "OutputReference"
	case t.Base == "cdktf.ComplexObject":
		elemClass = r.Fqn // a computed single object: Terraform sees list(object)
	default:
		return tfschema.Type{}, fmt.Errorf("unsupported computed type %s (base %s)", r, t.Base)
	}
	obj, err := g.objectType(elemClass, js)
	if err != nil {
		return tfschema.Type{}, err
	}
	if isSet {
		return tfschema.SetOf(obj), nil
	}
	return tfschema.ListOf(obj), nil
}

// objectType is the object type whose attributes are a class's getters.
func (g *generator) objectType(classFqn string, js *jsFile) (tfschema.Type, error) {
	cls := g.m.Types[classFqn]
	jc := js.classes[shortName(classFqn)]
	if cls == nil || jc == nil {
		return tfschema.Type{}, fmt.Errorf("class %s not found", classFqn)
	}
	attrs := map[string]tfschema.Type{}
	for _, p := range computedProps(cls, nil) {
		name, isSet, ok := jc.attrName(p.Name)
		if !ok {
			return tfschema.Type{}, fmt.Errorf("%s.%s: no Terraform name in %s", classFqn, p.Name, js.name)
		}
		t, err := g.computedType(p.Type, isSet, jc.getters[p.Name], js)
		if err != nil {
			return tfschema.Type{}, fmt.Errorf("%s.%s: %w", classFqn, p.Name, err)
		}
		attrs[name] = t
	}
	return tfschema.ObjectOf(attrs), nil
}

func shortName(fqn string) string { return fqn[strings.LastIndex(fqn, ".")+1:] }

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
