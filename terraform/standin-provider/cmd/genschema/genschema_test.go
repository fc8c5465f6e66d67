package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/riskwire/didit-risk/terraform/standin-provider/internal/tfschema"
)

// A miniature @cdktf/provider-google: one resource written the way cdktf
// writes them, covering each encoding genschema reads.
const fakeManifest = `{
 "name": "@cdktf/provider-google",
 "types": {
  "@cdktf/provider-google.provider.GoogleProvider": {
   "fqn": "@cdktf/provider-google.provider.GoogleProvider", "kind": "class", "base": "cdktf.TerraformProvider",
   "docs": {"summary": "Represents a {@link https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs google}."},
   "initializer": {"parameters": [{"name": "config", "type": {"fqn": "@cdktf/provider-google.provider.GoogleProviderConfig"}}]},
   "locationInModule": {"filename": "src/provider/index.ts"}
  },
  "@cdktf/provider-google.provider.GoogleProviderConfig": {
   "fqn": "@cdktf/provider-google.provider.GoogleProviderConfig", "kind": "interface",
   "properties": [
    {"name": "alias", "optional": true, "type": {"primitive": "string"}},
    {"name": "project", "optional": true, "type": {"primitive": "string"}}
   ]
  },
  "@cdktf/provider-google.thing.Thing": {
   "fqn": "@cdktf/provider-google.thing.Thing", "kind": "class", "base": "cdktf.TerraformResource",
   "docs": {"summary": "Represents a {@link https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/thing google_thing}."},
   "initializer": {"parameters": [{"name": "config", "type": {"fqn": "@cdktf/provider-google.thing.ThingConfig"}}]},
   "locationInModule": {"filename": "src/thing/index.ts"},
   "properties": [
    {"name": "tfResourceType", "static": true, "immutable": true, "type": {"primitive": "string"}},
    {"name": "name", "type": {"primitive": "string"}},
    {"name": "nameInput", "immutable": true, "optional": true, "type": {"primitive": "string"}},
    {"name": "uri", "immutable": true, "type": {"primitive": "string"}},
    {"name": "ready", "immutable": true, "type": {"fqn": "cdktf.IResolvable"}},
    {"name": "history", "immutable": true, "type": {"fqn": "@cdktf/provider-google.thing.ThingHistoryList"}},
    {"name": "policy", "immutable": true, "type": {"fqn": "@cdktf/provider-google.thing.ThingPolicyOutputReference"}}
   ]
  },
  "@cdktf/provider-google.thing.ThingConfig": {
   "fqn": "@cdktf/provider-google.thing.ThingConfig", "kind": "interface",
   "properties": [
    {"name": "name", "type": {"primitive": "string"}},
    {"name": "id", "optional": true, "type": {"primitive": "string"}, "docs": {"remarks": "If you experience problems setting this value it might not be settable."}},
    {"name": "tags", "optional": true, "type": {"collection": {"kind": "array", "elementtype": {"primitive": "string"}}}},
    {"name": "labels", "optional": true, "type": {"collection": {"kind": "map", "elementtype": {"primitive": "string"}}}},
    {"name": "enabled", "optional": true, "type": {"union": {"types": [{"primitive": "boolean"}, {"fqn": "cdktf.IResolvable"}]}}},
    {"name": "policy", "type": {"fqn": "@cdktf/provider-google.thing.ThingPolicy"}},
    {"name": "rule", "optional": true, "type": {"union": {"types": [{"fqn": "cdktf.IResolvable"}, {"collection": {"kind": "array", "elementtype": {"fqn": "@cdktf/provider-google.thing.ThingRule"}}}]}}}
   ]
  },
  "@cdktf/provider-google.thing.ThingPolicy": {
   "fqn": "@cdktf/provider-google.thing.ThingPolicy", "kind": "interface",
   "properties": [{"name": "maxAttempts", "optional": true, "type": {"primitive": "number"}}]
  },
  "@cdktf/provider-google.thing.ThingPolicyOutputReference": {
   "fqn": "@cdktf/provider-google.thing.ThingPolicyOutputReference", "kind": "class", "base": "cdktf.ComplexObject",
   "properties": [
    {"name": "maxAttempts", "type": {"primitive": "number"}},
    {"name": "state", "immutable": true, "type": {"primitive": "string"}},
    {"name": "internalValue", "optional": true, "type": {"fqn": "@cdktf/provider-google.thing.ThingPolicy"}}
   ]
  },
  "@cdktf/provider-google.thing.ThingRule": {
   "fqn": "@cdktf/provider-google.thing.ThingRule", "kind": "interface",
   "properties": [
    {"name": "expr", "type": {"primitive": "string"}},
    {"name": "id", "type": {"primitive": "string"}, "docs": {"remarks": "If you experience problems setting this value it might not be settable."}}
   ]
  },
  "@cdktf/provider-google.thing.ThingRuleOutputReference": {
   "fqn": "@cdktf/provider-google.thing.ThingRuleOutputReference", "kind": "class", "base": "cdktf.ComplexObject",
   "properties": [{"name": "expr", "type": {"primitive": "string"}}]
  },
  "@cdktf/provider-google.thing.ThingHistoryList": {
   "fqn": "@cdktf/provider-google.thing.ThingHistoryList", "kind": "class", "base": "cdktf.ComplexList"
  },
  "@cdktf/provider-google.thing.ThingHistoryOutputReference": {
   "fqn": "@cdktf/provider-google.thing.ThingHistoryOutputReference", "kind": "class", "base": "cdktf.ComplexObject",
   "properties": [{"name": "at", "immutable": true, "type": {"primitive": "string"}}]
  }
 }
}`

const fakeProviderJS = `class GoogleProvider extends cdktf.TerraformProvider {
    synthesizeHclAttributes() {
        const attrs = {
            alias: {
                value: cdktf.stringToHclTerraform(this._alias),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
            project: {
                value: cdktf.stringToHclTerraform(this._project),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
        };
    }
}
`

const fakeThingJS = `function thingPolicyToHclTerraform(struct) {
    const attrs = {
        max_attempts: {
            value: cdktf.numberToHclTerraform(struct.maxAttempts),
            isBlock: false,
            type: "simple",
            storageClassType: "number",
        },
    };
}
class ThingPolicyOutputReference extends cdktf.ComplexObject {
    get state() {
        return this.getStringAttribute('state');
    }
}
function thingRuleToHclTerraform(struct) {
    const attrs = {
        expr: {
            value: cdktf.stringToHclTerraform(struct.expr),
            isBlock: false,
            type: "simple",
            storageClassType: "string",
        },
        id: {
            value: cdktf.stringToHclTerraform(struct.id),
            isBlock: false,
            type: "simple",
            storageClassType: "string",
        },
    };
}
class ThingRuleOutputReference extends cdktf.ComplexObject {
}
class ThingHistoryOutputReference extends cdktf.ComplexObject {
    get at() {
        return this.getStringAttribute('at');
    }
}
class Thing extends cdktf.TerraformResource {
    constructor(scope, id, config) {
        this._history = new ThingHistoryList(this, "history", true);
        this._policy = new ThingPolicyOutputReference(this, "policy");
    }
    get uri() {
        return this.getStringAttribute('uri');
    }
    get ready() {
        return this.getBooleanAttribute('ready');
    }
    get history() {
        return this._history;
    }
    synthesizeHclAttributes() {
        const attrs = {
            enabled: {
                value: cdktf.booleanToHclTerraform(this._enabled),
                isBlock: false,
                type: "simple",
                storageClassType: "boolean",
            },
            id: {
                value: cdktf.stringToHclTerraform(this._id),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
            labels: {
                value: cdktf.hashMapperHcl(cdktf.stringToHclTerraform)(this._labels),
                isBlock: false,
                type: "map",
                storageClassType: "stringMap",
            },
            name: {
                value: cdktf.stringToHclTerraform(this._name),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
            tags: {
                value: cdktf.listMapperHcl(cdktf.stringToHclTerraform, false)(this._tags),
                isBlock: false,
                type: "set",
                storageClassType: "stringList",
            },
            policy: {
                value: thingPolicyToHclTerraform(this._policy.internalValue),
                isBlock: true,
                type: "list",
                storageClassType: "ThingPolicyList",
            },
            rule: {
                value: cdktf.listMapperHcl(thingRuleToHclTerraform, true)(this._rule.internalValue),
                isBlock: true,
                type: "set",
                storageClassType: "ThingRuleList",
            },
        };
    }
}
`

func TestEncodings(t *testing.T) {
	pkg := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(pkg, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".jsii", fakeManifest)
	write("lib/provider/index.js", fakeProviderJS)
	write("lib/thing/index.js", fakeThingJS)
	cfg := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg, "main.tf"), []byte("resource \"google_thing\" \"x\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "schema.json")
	if err := run(pkg, cfg, out, "test"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got tfschema.File
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}

	if got.Provider != "hashicorp/google" || got.Version != "6.50.0" {
		t.Errorf("provider %s %s", got.Provider, got.Version)
	}
	if _, ok := got.ProviderConfig.Attributes["alias"]; ok {
		t.Error("alias is a meta-argument, not a provider attribute")
	}
	want := &tfschema.Block{
		Attributes: map[string]*tfschema.Attribute{
			"name":    {Type: tfschema.String, Required: true},
			"id":      {Type: tfschema.String, Optional: true, Computed: true},
			"tags":    {Type: tfschema.SetOf(tfschema.String), Optional: true},
			"labels":  {Type: tfschema.MapOf(tfschema.String), Optional: true},
			"enabled": {Type: tfschema.Bool, Optional: true},
			"uri":     {Type: tfschema.String, Computed: true},
			"ready":   {Type: tfschema.Bool, Computed: true},
			"history": {Type: tfschema.SetOf(tfschema.ObjectOf(map[string]tfschema.Type{"at": tfschema.String})), Computed: true},
		},
		Blocks: map[string]*tfschema.NestedBlock{
			"policy": {Nesting: tfschema.NestingList, MinItems: 1, MaxItems: 1, Block: &tfschema.Block{Attributes: map[string]*tfschema.Attribute{
				"max_attempts": {Type: tfschema.Number, Optional: true},
				"state":        {Type: tfschema.String, Computed: true},
			}}},
			"rule": {Nesting: tfschema.NestingSet, Block: &tfschema.Block{Attributes: map[string]*tfschema.Attribute{
				"expr": {Type: tfschema.String, Required: true},
				// A required id of a nested block (artifact registry's
				// cleanup_policies.id) gets cdktf's mark too, but stays required.
				"id": {Type: tfschema.String, Required: true},
			}}},
		},
	}
	gotThing := got.Resources["google_thing"]
	if !reflect.DeepEqual(gotThing, want) {
		a, _ := json.MarshalIndent(gotThing, "", " ")
		b, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("google_thing:\n got %s\nwant %s", a, b)
	}
}
