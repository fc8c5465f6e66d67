package standin

import (
	"context"
	"math/big"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/riskwire/didit-risk/terraform/standin-provider/internal/tfschema"
	"github.com/riskwire/didit-risk/terraform/standin-provider/schema"
)

func TestEmbeddedSchemaServes(t *testing.T) {
	file, err := schema.Google()
	if err != nil {
		t.Fatal(err)
	}
	if file.Provider != "hashicorp/google" || file.Version != "6.50.0" {
		t.Fatalf("schema of %s %s, want hashicorp/google 6.50.0", file.Provider, file.Version)
	}
	ctx := context.Background()
	p := New(file)()

	var ps provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &ps)
	if ps.Diagnostics.HasError() {
		t.Fatalf("provider schema: %v", ps.Diagnostics)
	}
	for _, f := range p.Resources(ctx) {
		r := f()
		var md resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "google"}, &md)
		var rs resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &rs)
		if d := rs.Schema.ValidateImplementation(ctx); d.HasError() {
			t.Errorf("%s: %v", md.TypeName, d)
		}
	}
	for _, f := range p.DataSources(ctx) {
		d := f()
		var md datasource.MetadataResponse
		d.Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: "google"}, &md)
		var ds datasource.SchemaResponse
		d.Schema(ctx, datasource.SchemaRequest{}, &ds)
		if diags := ds.Schema.ValidateImplementation(ctx); diags.HasError() {
			t.Errorf("%s: %v", md.TypeName, diags)
		}
	}
	if len(file.Resources) == 0 || file.DataSources["google_project"] == nil {
		t.Fatalf("schema subset lacks the configuration's types: %d resources", len(file.Resources))
	}
}

func TestFillUnknownsGivesPlaceholders(t *testing.T) {
	obj := tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"name":  tftypes.String,
		"id":    tftypes.String,
		"url":   tftypes.String,
		"count": tftypes.Number,
		"tags":  tftypes.List{ElementType: tftypes.String},
	}}
	v := tftypes.NewValue(obj, map[string]tftypes.Value{
		"name":  tftypes.NewValue(tftypes.String, "kept"),
		"id":    tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
		"url":   tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
		"count": tftypes.NewValue(tftypes.Number, tftypes.UnknownValue),
		"tags":  tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, tftypes.UnknownValue),
	})
	got, err := fillUnknowns(v, "google_pubsub_topic")
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsFullyKnown() {
		t.Fatalf("unknowns left: %v", got)
	}
	var m map[string]tftypes.Value
	if err := got.As(&m); err != nil {
		t.Fatal(err)
	}
	var name, id, url string
	_ = m["name"].As(&name)
	_ = m["id"].As(&id)
	_ = m["url"].As(&url)
	if name != "kept" || id != "projects/standin-project/pubsub_topic/standin" || url != "https://pubsub-topic.standin.invalid/url" {
		t.Errorf("name %q id %q url %q", name, id, url)
	}
	var n big.Float
	if err := m["count"].As(&n); err != nil {
		t.Fatal(err)
	}
}

func TestFillComputedForDataSources(t *testing.T) {
	b := &tfschema.Block{Attributes: map[string]*tfschema.Attribute{
		"project_id": {Type: tfschema.String, Optional: true},
		"number":     {Type: tfschema.String, Computed: true},
		"labels":     {Type: tfschema.MapOf(tfschema.String), Computed: true},
	}}
	obj := tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"project_id": tftypes.String,
		"number":     tftypes.String,
		"labels":     tftypes.Map{ElementType: tftypes.String},
	}}
	v := tftypes.NewValue(obj, map[string]tftypes.Value{
		"project_id": tftypes.NewValue(tftypes.String, "p"),
		"number":     tftypes.NewValue(tftypes.String, nil),
		"labels":     tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, nil),
	})
	got, err := fillComputed(v, b, "google_project")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]tftypes.Value
	if err := got.As(&m); err != nil {
		t.Fatal(err)
	}
	var number string
	_ = m["number"].As(&number)
	if number != "123456789012" || m["labels"].IsNull() {
		t.Errorf("number %q, labels null %v", number, m["labels"].IsNull())
	}
}
