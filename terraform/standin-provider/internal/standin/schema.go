package standin

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	pschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/riskwire/didit-risk/terraform/standin-provider/internal/tfschema"
)

// The framework has one schema package per kind of schema (resource, data
// source, provider) with parallel but distinct types, hence three small
// converters below. Block item limits are validators: the framework does not
// put MinItems/MaxItems in the schema it sends to Terraform, so they are
// checked when Terraform asks the provider to validate a configuration
// (terraform validate, plan).

func attrType(t tfschema.Type) attr.Type {
	switch t.Kind {
	case "string":
		return types.StringType
	case "number":
		return types.NumberType
	case "bool":
		return types.BoolType
	case "list":
		return types.ListType{ElemType: attrType(*t.Elem)}
	case "set":
		return types.SetType{ElemType: attrType(*t.Elem)}
	case "map":
		return types.MapType{ElemType: attrType(*t.Elem)}
	case "object":
		at := make(map[string]attr.Type, len(t.Attr))
		for k, v := range t.Attr {
			at[k] = attrType(v)
		}
		return types.ObjectType{AttrTypes: at}
	}
	panic(fmt.Sprintf("unknown type kind %q", t.Kind))
}

// ---- resources ----

func resourceSchema(b *tfschema.Block) rschema.Schema {
	return rschema.Schema{Attributes: resourceAttrs(b), Blocks: resourceBlocks(b)}
}

func resourceAttrs(b *tfschema.Block) map[string]rschema.Attribute {
	out := map[string]rschema.Attribute{}
	for name, a := range b.Attributes {
		req, opt, comp := a.Required, a.Optional, a.Computed
		switch t := a.Type; t.Kind {
		case "string":
			out[name] = rschema.StringAttribute{Required: req, Optional: opt, Computed: comp}
		case "number":
			out[name] = rschema.NumberAttribute{Required: req, Optional: opt, Computed: comp}
		case "bool":
			out[name] = rschema.BoolAttribute{Required: req, Optional: opt, Computed: comp}
		case "list":
			out[name] = rschema.ListAttribute{ElementType: attrType(*t.Elem), Required: req, Optional: opt, Computed: comp}
		case "set":
			out[name] = rschema.SetAttribute{ElementType: attrType(*t.Elem), Required: req, Optional: opt, Computed: comp}
		case "map":
			out[name] = rschema.MapAttribute{ElementType: attrType(*t.Elem), Required: req, Optional: opt, Computed: comp}
		case "object":
			out[name] = rschema.ObjectAttribute{AttributeTypes: attrType(t).(types.ObjectType).AttrTypes, Required: req, Optional: opt, Computed: comp}
		}
	}
	return out
}

func resourceBlocks(b *tfschema.Block) map[string]rschema.Block {
	out := map[string]rschema.Block{}
	for name, nb := range b.Blocks {
		obj := rschema.NestedBlockObject{Attributes: resourceAttrs(nb.Block), Blocks: resourceBlocks(nb.Block)}
		switch nb.Nesting {
		case tfschema.NestingList:
			out[name] = rschema.ListNestedBlock{NestedObject: obj, Validators: listLimits(name, nb)}
		case tfschema.NestingSet:
			out[name] = rschema.SetNestedBlock{NestedObject: obj, Validators: setLimits(name, nb)}
		case tfschema.NestingSingle:
			out[name] = rschema.SingleNestedBlock{Attributes: obj.Attributes, Blocks: obj.Blocks}
		}
	}
	return out
}

// ---- data sources ----

func dataSourceSchema(b *tfschema.Block) dschema.Schema {
	return dschema.Schema{Attributes: dataSourceAttrs(b), Blocks: dataSourceBlocks(b)}
}

func dataSourceAttrs(b *tfschema.Block) map[string]dschema.Attribute {
	out := map[string]dschema.Attribute{}
	for name, a := range b.Attributes {
		req, opt, comp := a.Required, a.Optional, a.Computed
		switch t := a.Type; t.Kind {
		case "string":
			out[name] = dschema.StringAttribute{Required: req, Optional: opt, Computed: comp}
		case "number":
			out[name] = dschema.NumberAttribute{Required: req, Optional: opt, Computed: comp}
		case "bool":
			out[name] = dschema.BoolAttribute{Required: req, Optional: opt, Computed: comp}
		case "list":
			out[name] = dschema.ListAttribute{ElementType: attrType(*t.Elem), Required: req, Optional: opt, Computed: comp}
		case "set":
			out[name] = dschema.SetAttribute{ElementType: attrType(*t.Elem), Required: req, Optional: opt, Computed: comp}
		case "map":
			out[name] = dschema.MapAttribute{ElementType: attrType(*t.Elem), Required: req, Optional: opt, Computed: comp}
		case "object":
			out[name] = dschema.ObjectAttribute{AttributeTypes: attrType(t).(types.ObjectType).AttrTypes, Required: req, Optional: opt, Computed: comp}
		}
	}
	return out
}

func dataSourceBlocks(b *tfschema.Block) map[string]dschema.Block {
	out := map[string]dschema.Block{}
	for name, nb := range b.Blocks {
		obj := dschema.NestedBlockObject{Attributes: dataSourceAttrs(nb.Block), Blocks: dataSourceBlocks(nb.Block)}
		switch nb.Nesting {
		case tfschema.NestingList:
			out[name] = dschema.ListNestedBlock{NestedObject: obj, Validators: listLimits(name, nb)}
		case tfschema.NestingSet:
			out[name] = dschema.SetNestedBlock{NestedObject: obj, Validators: setLimits(name, nb)}
		case tfschema.NestingSingle:
			out[name] = dschema.SingleNestedBlock{Attributes: obj.Attributes, Blocks: obj.Blocks}
		}
	}
	return out
}

// ---- provider ----

func providerSchema(b *tfschema.Block) pschema.Schema {
	return pschema.Schema{Attributes: providerAttrs(b), Blocks: providerBlocks(b)}
}

func providerAttrs(b *tfschema.Block) map[string]pschema.Attribute {
	out := map[string]pschema.Attribute{}
	for name, a := range b.Attributes {
		// Provider schemas have no computed attributes.
		req, opt := a.Required, a.Optional || a.Computed
		switch t := a.Type; t.Kind {
		case "string":
			out[name] = pschema.StringAttribute{Required: req, Optional: opt}
		case "number":
			out[name] = pschema.NumberAttribute{Required: req, Optional: opt}
		case "bool":
			out[name] = pschema.BoolAttribute{Required: req, Optional: opt}
		case "list":
			out[name] = pschema.ListAttribute{ElementType: attrType(*t.Elem), Required: req, Optional: opt}
		case "set":
			out[name] = pschema.SetAttribute{ElementType: attrType(*t.Elem), Required: req, Optional: opt}
		case "map":
			out[name] = pschema.MapAttribute{ElementType: attrType(*t.Elem), Required: req, Optional: opt}
		case "object":
			out[name] = pschema.ObjectAttribute{AttributeTypes: attrType(t).(types.ObjectType).AttrTypes, Required: req, Optional: opt}
		}
	}
	return out
}

func providerBlocks(b *tfschema.Block) map[string]pschema.Block {
	out := map[string]pschema.Block{}
	for name, nb := range b.Blocks {
		obj := pschema.NestedBlockObject{Attributes: providerAttrs(nb.Block), Blocks: providerBlocks(nb.Block)}
		switch nb.Nesting {
		case tfschema.NestingList:
			out[name] = pschema.ListNestedBlock{NestedObject: obj, Validators: listLimits(name, nb)}
		case tfschema.NestingSet:
			out[name] = pschema.SetNestedBlock{NestedObject: obj, Validators: setLimits(name, nb)}
		case tfschema.NestingSingle:
			out[name] = pschema.SingleNestedBlock{Attributes: obj.Attributes, Blocks: obj.Blocks}
		}
	}
	return out
}

// ---- block item limits ----

// itemLimits checks the number of blocks of one type, with Terraform core's
// wording for the same check.
type itemLimits struct {
	name     string
	min, max int
}

func listLimits(name string, nb *tfschema.NestedBlock) []validator.List {
	if nb.MinItems == 0 && nb.MaxItems == 0 {
		return nil
	}
	return []validator.List{itemLimits{name, nb.MinItems, nb.MaxItems}}
}

func setLimits(name string, nb *tfschema.NestedBlock) []validator.Set {
	if nb.MinItems == 0 && nb.MaxItems == 0 {
		return nil
	}
	return []validator.Set{itemLimits{name, nb.MinItems, nb.MaxItems}}
}

func (v itemLimits) Description(context.Context) string {
	return fmt.Sprintf("between %d and %d %q blocks", v.min, v.max, v.name)
}

func (v itemLimits) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v itemLimits) check(n int) (summary, detail string) {
	switch {
	case v.max > 0 && n > v.max:
		return fmt.Sprintf("Too many %s blocks", v.name), fmt.Sprintf("No more than %d %q blocks are allowed", v.max, v.name)
	case n < v.min:
		return fmt.Sprintf("Insufficient %s blocks", v.name), fmt.Sprintf("At least %d %q blocks are required.", v.min, v.name)
	}
	return "", ""
}

func (v itemLimits) ValidateList(_ context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsUnknown() {
		return
	}
	if s, d := v.check(len(req.ConfigValue.Elements())); s != "" {
		resp.Diagnostics.AddAttributeError(req.Path, s, d)
	}
}

func (v itemLimits) ValidateSet(_ context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsUnknown() {
		return
	}
	if s, d := v.check(len(req.ConfigValue.Elements())); s != "" {
		resp.Diagnostics.AddAttributeError(req.Path, s, d)
	}
}
