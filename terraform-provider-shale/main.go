// Command terraform-provider-shale is the Terraform (and OpenTofu) provider
// for Shale: topics, ACLs, SCRAM users and client quotas, spoken through
// the Kafka admin protocol, so it manages a Kafka cluster too. Terraform
// starts it; run it by hand only with -debug, to attach a debugger.
//
// See docs/OPERATIONS.md, "Managing topics, ACLs and users with Terraform".
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/shalelog/shale/terraform-provider-shale/internal/shaleprovider"
)

// version is stamped by the build (-ldflags "-X main.version=...").
var version = "dev"

// address is the provider's source address in the registry's form; a
// configuration names it as source = "shalelog/shale".
const address = "registry.terraform.io/shalelog/shale"

func main() {
	debug := flag.Bool("debug", false, "run with support for debuggers (prints TF_REATTACH_PROVIDERS to set)")
	flag.Parse()
	err := providerserver.Serve(context.Background(), shaleprovider.New(version), providerserver.ServeOpts{
		Address: address,
		Debug:   *debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
