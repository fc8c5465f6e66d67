// Command terraform-provider-google is an offline stand-in for the
// hashicorp/google provider (see internal/standin). It is built and installed
// into a filesystem mirror by ../terraform.mk (make tf-provider) for
// terraform validate, plan and test on machines without registry access.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/riskwire/didit-risk/terraform/standin-provider/internal/standin"
	"github.com/riskwire/didit-risk/terraform/standin-provider/schema"
)

func main() {
	debug := flag.Bool("debug", false, "run with support for debuggers")
	flag.Parse()

	file, err := schema.Google()
	if err != nil {
		log.Fatal(err)
	}
	// Protocol 5, as the real hashicorp/google provider speaks.
	err = providerserver.Serve(context.Background(), standin.New(file), providerserver.ServeOpts{
		Address:         "registry.terraform.io/hashicorp/google",
		Debug:           *debug,
		ProtocolVersion: 5,
	})
	if err != nil {
		log.Fatal(err)
	}
}
