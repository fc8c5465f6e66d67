# Terraform and packaging targets, included from the root Makefile.
#   make package     functions' source archive (build/source.zip) for terraform/
#   make tf-provider offline stand-in for hashicorp/google (build/terraform)
#   make tf-check    offline checks of terraform/ (fmt, schema, validate, plan, test)
# Deploying for real needs the registry's provider and credentials:
#   make package && terraform -chdir=terraform init && terraform -chdir=terraform apply

GO             ?= go
TF_DIR         := terraform
TF_BUILD_DIR   := $(CURDIR)/build/terraform
TF_SOURCE_ZIP  := build/source.zip
# A scoring policy file to ship in the archive (relative to the repository
# root); set the same path as the policy_file Terraform variable.
TF_POLICY_FILE ?=
# A shadow policy to ship beside it (the shadow_policy_file Terraform variable).
TF_SHADOW_POLICY_FILE ?=

.PHONY: package tf-provider tf-schema tf-check

package: ## Write build/source.zip, the functions' source for Terraform (TF_POLICY_FILE=path adds a policy file)
	$(GO) run ./functions/cmd/package-source -out $(TF_SOURCE_ZIP) $(if $(TF_POLICY_FILE),-policy $(TF_POLICY_FILE)) $(if $(TF_SHADOW_POLICY_FILE),-policy $(TF_SHADOW_POLICY_FILE))

tf-provider: ## Build the offline stand-in hashicorp/google provider into build/terraform (mirror + terraformrc)
	TF_BUILD_DIR=$(TF_BUILD_DIR) $(TF_DIR)/scripts/install-provider.sh

tf-schema: ## Regenerate the stand-in's schema subset from @cdktf/provider-google (npm) after changing resource types
	$(TF_DIR)/standin-provider/gen-schema.sh

tf-check: ## Check terraform/ offline: fmt, schema, init/validate/plan, terraform test, negative tests
	TF_BUILD_DIR=$(TF_BUILD_DIR) $(TF_DIR)/scripts/tf-check.sh
