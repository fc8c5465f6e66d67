# Secret Manager secrets: Terraform owns the secrets, never their values, so
# no value reaches the state or the repository. Add values out of band:
#   printf '%s' "$VALUE" | gcloud secrets versions add SECRET_ID --data-file=-
# (see the secret_ids output). The webhook secret may hold several
# comma-separated secrets while rotating.

locals {
  secrets = {
    webhook  = "${var.name_prefix}-didit-webhook-secret" # receiver: DIDIT_WEBHOOK_SECRET
    api_key  = "${var.name_prefix}-didit-api-key"        # step-up: DIDIT_API_KEY
    hash_key = "${var.name_prefix}-hash-key"             # scorer: HASH_KEYS ("id:key,…", HMAC keys for document/device hashes, current first)
  }
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.value

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
