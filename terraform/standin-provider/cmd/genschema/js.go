package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// jsFile is what genschema reads from one compiled lib/<resource>/index.js:
// Terraform names and list/set/struct kinds, which the .jsii lacks.
type jsFile struct {
	name    string
	classes map[string]*jsClass            // by class name
	structs map[string]map[string]hclEntry // by function prefix (fooBar of fooBarToHclTerraform), then jsii property name
}

type jsClass struct {
	hcl     map[string]hclEntry // synthesizeHclAttributes entries by jsii property name (top-level classes only)
	getters map[string]string   // getter name -> returned expression
	fields  map[string]jsField  // this._name = new X(this, "tf_name", wrapsSet)
}

type jsField struct {
	name    string
	wrapSet bool
}

// hclEntry is one entry of an HCL synthesizer.
type hclEntry struct {
	name    string // Terraform name
	isBlock bool
	kind    string // simple, list, set, map, struct
}

var (
	topLevelRE  = regexp.MustCompile(`(?m)^(?:class (\w+) extends [\w.]+ \{|function (\w+)ToHclTerraform\(struct\) \{|function |exports\.|//)`)
	hclEntryRE  = regexp.MustCompile(`(\w+): \{\s*value: ([^\n]*),\s*isBlock: (true|false),\s*type: "(\w+)",\s*storageClassType: "\w+",\s*\}`)
	valueRefRE  = regexp.MustCompile(`(?:struct\.|this\._)(\w+)`)
	getterRE    = regexp.MustCompile(`(?m)^    get (\w+)\(\) \{\s*return ([^;]*);\s*\}`)
	fieldInitRE = regexp.MustCompile(`this\._(\w+) = new [\w.]+\(this, "(\w+)"(?:, (true|false))?\)`)
	quotedRE    = regexp.MustCompile(`'(\w+)'`)
	synthHclRE  = regexp.MustCompile(`(?s)synthesizeHclAttributes\(\) \{.*?\n    \}\n`)
)

func (g *generator) jsFor(cls *jsiiType) (*jsFile, error) {
	rel := strings.TrimPrefix(cls.Location.Filename, "src/")
	rel = strings.TrimSuffix(rel, ".ts") + ".js"
	if js, ok := g.js[rel]; ok {
		return js, nil
	}
	js, err := parseJS(filepath.Join(g.pkg, "lib", rel))
	if err != nil {
		return nil, err
	}
	g.js[rel] = js
	return js, nil
}

func parseJS(path string) (*jsFile, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text := string(src)
	js := &jsFile{name: path, classes: map[string]*jsClass{}, structs: map[string]map[string]hclEntry{}}
	locs := topLevelRE.FindAllStringSubmatchIndex(text, -1)
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		body := text[loc[1]:end]
		switch {
		case loc[2] >= 0: // class
			name := text[loc[2]:loc[3]]
			c := &jsClass{getters: map[string]string{}, fields: map[string]jsField{}}
			if m := synthHclRE.FindString(body); m != "" {
				if c.hcl, err = hclEntries(m); err != nil {
					return nil, fmt.Errorf("%s: class %s: %w", path, name, err)
				}
			}
			for _, m := range getterRE.FindAllStringSubmatch(body, -1) {
				c.getters[m[1]] = m[2]
			}
			for _, m := range fieldInitRE.FindAllStringSubmatch(body, -1) {
				c.fields[m[1]] = jsField{name: m[2], wrapSet: m[3] == "true"}
			}
			js.classes[name] = c
		case loc[4] >= 0: // fooToHclTerraform
			e, err := hclEntries(body)
			if err != nil {
				return nil, fmt.Errorf("%s: function %sToHclTerraform: %w", path, text[loc[4]:loc[5]], err)
			}
			js.structs[text[loc[4]:loc[5]]] = e
		}
	}
	return js, nil
}

func hclEntries(body string) (map[string]hclEntry, error) {
	out := map[string]hclEntry{}
	for _, m := range hclEntryRE.FindAllStringSubmatch(body, -1) {
		ref := valueRefRE.FindStringSubmatch(m[2])
		if ref == nil {
			return nil, fmt.Errorf("entry %s: no property in %q", m[1], m[2])
		}
		out[ref[1]] = hclEntry{name: m[1], isBlock: m[3] == "true", kind: m[4]}
	}
	return out, nil
}

// attrName returns the Terraform name of a computed getter and whether the
// attribute is a set.
func (c *jsClass) attrName(prop string) (name string, isSet bool, ok bool) {
	expr, found := c.getters[prop]
	if !found {
		return "", false, false
	}
	if m := regexp.MustCompile(`^this\._(\w+)$`).FindStringSubmatch(expr); m != nil {
		f, ok := c.fields[m[1]]
		return f.name, f.wrapSet, ok
	}
	m := quotedRE.FindStringSubmatch(expr)
	if m == nil {
		return "", false, false
	}
	return m[1], strings.Contains(expr, "Fn.tolist("), true
}
