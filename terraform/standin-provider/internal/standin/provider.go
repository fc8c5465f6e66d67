// Package standin is an offline stand-in for the hashicorp/google Terraform
// provider: it serves the real provider's schema (for the resource and data
// source types this project uses, generated from the cdktf manifest) and
// implements every resource by storing what Terraform plans, so that
// terraform validate, plan and test run without network access or
// credentials. It talks to no API.
package standin

import (
	"context"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	pschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/riskwire/didit-risk/terraform/standin-provider/internal/tfschema"
)

// New returns the provider factory for the given schema file.
func New(file *tfschema.File) func() provider.Provider {
	return func() provider.Provider { return &googleProvider{file: file} }
}

type googleProvider struct {
	file *tfschema.File
}

var _ provider.Provider = (*googleProvider)(nil)

func (p *googleProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "google"
	resp.Version = p.file.Version
}

func (p *googleProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	s := pschema.Schema{}
	if p.file.ProviderConfig != nil {
		s = providerSchema(p.file.ProviderConfig)
	}
	s.Description = "Offline stand-in for hashicorp/google " + p.file.Version + " (schema from " + p.file.Source + ")"
	resp.Schema = s
}

func (p *googleProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (p *googleProvider) Resources(context.Context) []func() resource.Resource {
	var out []func() resource.Resource
	for _, name := range sortedKeys(p.file.Resources) {
		r := &storedResource{name: name, schema: resourceSchema(p.file.Resources[name])}
		out = append(out, func() resource.Resource { return r })
	}
	return out
}

func (p *googleProvider) DataSources(context.Context) []func() datasource.DataSource {
	var out []func() datasource.DataSource
	for _, name := range sortedKeys(p.file.DataSources) {
		b := p.file.DataSources[name]
		d := &placeholderDataSource{name: name, block: b, schema: dataSourceSchema(b)}
		out = append(out, func() datasource.DataSource { return d })
	}
	return out
}

func sortedKeys(m map[string]*tfschema.Block) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// storedResource keeps whatever Terraform planned; computed values the plan
// leaves unknown become placeholders on apply.
type storedResource struct {
	name   string
	schema rschema.Schema
}

func (r *storedResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = r.name
}

func (r *storedResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = r.schema
}

func (r *storedResource) Create(_ context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	v, err := fillUnknowns(req.Plan.Raw, r.name)
	if err != nil {
		resp.Diagnostics.AddError("stand-in provider", err.Error())
		return
	}
	resp.State.Raw = v
}

// Read keeps the stored state (the framework pre-fills the response with it).
func (r *storedResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (r *storedResource) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	v, err := fillUnknowns(req.Plan.Raw, r.name)
	if err != nil {
		resp.Diagnostics.AddError("stand-in provider", err.Error())
		return
	}
	resp.State.Raw = v
}

// Delete has nothing to delete; the framework drops the state.
func (r *storedResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// placeholderDataSource answers with its configuration plus placeholders for
// every computed attribute.
type placeholderDataSource struct {
	name   string
	block  *tfschema.Block
	schema dschema.Schema
}

func (d *placeholderDataSource) Metadata(_ context.Context, _ datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = d.name
}

func (d *placeholderDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = d.schema
}

func (d *placeholderDataSource) Read(_ context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	v, err := fillComputed(req.Config.Raw, d.block, d.name)
	if err != nil {
		resp.Diagnostics.AddError("stand-in provider", err.Error())
		return
	}
	resp.State.Raw = v
}
