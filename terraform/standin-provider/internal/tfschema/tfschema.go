// Package tfschema is the JSON form of the provider schema subset that
// cmd/genschema extracts from the cdktf manifest and the stand-in provider
// serves. It mirrors Terraform's own schema model: attributes with a type and
// required/optional/computed flags, and nested blocks with a nesting mode and
// item limits.
package tfschema

import (
	"encoding/json"
	"fmt"
)

// File is the committed schema subset (schema/google.json).
type File struct {
	// Provider is the provider the schema was generated from, e.g. hashicorp/google.
	Provider string `json:"provider"`
	// Version is that provider's version, e.g. 6.50.0.
	Version string `json:"version"`
	// Source names the manifest the schema was generated from.
	Source string `json:"source"`
	// ProviderConfig is the schema of the provider block.
	ProviderConfig *Block `json:"provider_config"`
	// Resources and DataSources map a type name (google_pubsub_topic) to its schema.
	Resources   map[string]*Block `json:"resources"`
	DataSources map[string]*Block `json:"data_sources"`
}

// Block is an object with attributes and nested blocks.
type Block struct {
	Attributes map[string]*Attribute   `json:"attributes,omitempty"`
	Blocks     map[string]*NestedBlock `json:"blocks,omitempty"`
}

// Attribute is one attribute of a block.
type Attribute struct {
	Type     Type `json:"type"`
	Required bool `json:"required,omitempty"`
	Optional bool `json:"optional,omitempty"`
	Computed bool `json:"computed,omitempty"`
}

// Nesting is how a nested block repeats.
type Nesting string

// Nesting modes, as in Terraform's schema.
const (
	NestingList   Nesting = "list"
	NestingSet    Nesting = "set"
	NestingSingle Nesting = "single"
)

// NestedBlock is a block type nested in another.
type NestedBlock struct {
	Nesting  Nesting `json:"nesting"`
	MinItems int     `json:"min_items,omitempty"`
	MaxItems int     `json:"max_items,omitempty"`
	Block    *Block  `json:"block"`
}

// Type is a Terraform value type in the JSON form Terraform itself uses for
// types ("string", ["list","string"], ["object",{"a":"number"}]).
type Type struct {
	Kind string          // string, number, bool, list, set, map, object
	Elem *Type           // for list, set and map
	Attr map[string]Type // for object
}

// Primitive types.
var (
	String = Type{Kind: "string"}
	Number = Type{Kind: "number"}
	Bool   = Type{Kind: "bool"}
)

// ListOf, SetOf and MapOf build collection types.
func ListOf(t Type) Type { return Type{Kind: "list", Elem: &t} }

// SetOf builds a set type.
func SetOf(t Type) Type { return Type{Kind: "set", Elem: &t} }

// MapOf builds a map type.
func MapOf(t Type) Type { return Type{Kind: "map", Elem: &t} }

// ObjectOf builds an object type.
func ObjectOf(attrs map[string]Type) Type { return Type{Kind: "object", Attr: attrs} }

// MarshalJSON writes the type the way Terraform writes types in JSON.
func (t Type) MarshalJSON() ([]byte, error) {
	switch t.Kind {
	case "string", "number", "bool":
		return json.Marshal(t.Kind)
	case "list", "set", "map":
		if t.Elem == nil {
			return nil, fmt.Errorf("%s type without element type", t.Kind)
		}
		return json.Marshal([]any{t.Kind, *t.Elem})
	case "object":
		return json.Marshal([]any{t.Kind, t.Attr})
	}
	return nil, fmt.Errorf("unknown type kind %q", t.Kind)
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (t *Type) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "string", "number", "bool":
			*t = Type{Kind: s}
			return nil
		}
		return fmt.Errorf("unknown primitive type %q", s)
	}
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 {
		return fmt.Errorf("type %s: want a string or a [kind, element] pair", b)
	}
	if err := json.Unmarshal(pair[0], &s); err != nil {
		return fmt.Errorf("type %s: %w", b, err)
	}
	switch s {
	case "list", "set", "map":
		var e Type
		if err := json.Unmarshal(pair[1], &e); err != nil {
			return err
		}
		*t = Type{Kind: s, Elem: &e}
	case "object":
		var attrs map[string]Type
		if err := json.Unmarshal(pair[1], &attrs); err != nil {
			return err
		}
		*t = Type{Kind: s, Attr: attrs}
	default:
		return fmt.Errorf("unknown type kind %q", s)
	}
	return nil
}
