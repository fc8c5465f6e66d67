package standin

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/riskwire/didit-risk/terraform/standin-provider/internal/tfschema"
)

// PlaceholderProject is the project id placeholders name.
const PlaceholderProject = "standin-project"

// placeholder returns a plausible known value of type t for an attribute
// named name of a resource or data source of type typeName, for values the
// real provider would learn from the API (ids, URLs, numbers, timestamps).
func placeholder(t tftypes.Type, name, typeName string) tftypes.Value {
	switch {
	case t.Is(tftypes.String):
		return tftypes.NewValue(t, placeholderString(name, typeName))
	case t.Is(tftypes.Number):
		n := int64(1)
		if name == "number" {
			n = 123456789012
		}
		return tftypes.NewValue(t, new(big.Float).SetInt64(n))
	case t.Is(tftypes.Bool):
		return tftypes.NewValue(t, false)
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}), t.Is(tftypes.Tuple{}):
		return tftypes.NewValue(t, []tftypes.Value{})
	case t.Is(tftypes.Map{}):
		return tftypes.NewValue(t, map[string]tftypes.Value{})
	case t.Is(tftypes.Object{}):
		obj := t.(tftypes.Object)
		vals := make(map[string]tftypes.Value, len(obj.AttributeTypes))
		for k, at := range obj.AttributeTypes {
			vals[k] = placeholder(at, k, typeName)
		}
		return tftypes.NewValue(t, vals)
	}
	return tftypes.NewValue(t, nil)
}

func placeholderString(name, typeName string) string {
	short := strings.TrimPrefix(typeName, "google_")
	switch {
	case name == "id":
		return fmt.Sprintf("projects/%s/%s/standin", PlaceholderProject, short)
	case name == "number":
		return "123456789012" // google_project.number, a string in the real schema
	case name == "email" || strings.HasSuffix(name, "_email"):
		return fmt.Sprintf("standin@%s.iam.gserviceaccount.com", PlaceholderProject)
	case name == "member":
		return fmt.Sprintf("serviceAccount:standin@%s.iam.gserviceaccount.com", PlaceholderProject)
	case name == "uri" || name == "url" || strings.HasSuffix(name, "_uri") || strings.HasSuffix(name, "_url") || name == "self_link":
		return fmt.Sprintf("https://%s.standin.invalid/%s", strings.ReplaceAll(short, "_", "-"), name)
	case strings.HasSuffix(name, "_time") || strings.HasSuffix(name, "_timestamp"):
		return "2026-01-01T00:00:00Z"
	case name == "etag":
		return "BwStandin="
	case name == "project":
		return PlaceholderProject
	}
	return "standin-" + strings.ReplaceAll(name, "_", "-")
}

// lastName is the attribute name at the end of a path, skipping element steps.
func lastName(p *tftypes.AttributePath) string {
	steps := p.Steps()
	for i := len(steps) - 1; i >= 0; i-- {
		if n, ok := steps[i].(tftypes.AttributeName); ok {
			return string(n)
		}
	}
	return ""
}

// fillUnknowns replaces every unknown value, at any depth, with a placeholder:
// what a real provider does on apply when it learns computed values.
func fillUnknowns(v tftypes.Value, typeName string) (tftypes.Value, error) {
	return tftypes.Transform(v, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if v.IsKnown() {
			return v, nil
		}
		return placeholder(v.Type(), lastName(p), typeName), nil
	})
}

// fillComputed sets every null computed attribute of a data source result
// (and every unknown) to a placeholder, following the block's schema.
func fillComputed(v tftypes.Value, b *tfschema.Block, typeName string) (tftypes.Value, error) {
	if v.IsNull() || !v.IsKnown() {
		return v, nil
	}
	var vals map[string]tftypes.Value
	if err := v.As(&vals); err != nil {
		return v, err
	}
	for name, a := range b.Attributes {
		av, ok := vals[name]
		if ok && a.Computed && av.IsNull() {
			vals[name] = placeholder(av.Type(), name, typeName)
		}
	}
	for name, nb := range b.Blocks {
		bv, ok := vals[name]
		if !ok || bv.IsNull() || !bv.IsKnown() {
			continue
		}
		if nb.Nesting == tfschema.NestingSingle {
			nv, err := fillComputed(bv, nb.Block, typeName)
			if err != nil {
				return v, err
			}
			vals[name] = nv
			continue
		}
		var elems []tftypes.Value
		if err := bv.As(&elems); err != nil {
			return v, err
		}
		for i := range elems {
			nv, err := fillComputed(elems[i], nb.Block, typeName)
			if err != nil {
				return v, err
			}
			elems[i] = nv
		}
		vals[name] = tftypes.NewValue(bv.Type(), elems)
	}
	return fillUnknowns(tftypes.NewValue(v.Type(), vals), typeName)
}
