# Firestore (native mode): the database, TTL policies on the dedupe markers and
# step-up claims, the operators' review-queue index, and security rules that
# shut out the client SDKs. The functions use server SDKs with IAM, which
# rules do not apply to.

locals {
  firestore_database_name = var.manage_firestore_database ? google_firestore_database.this[0].name : var.firestore_database

  # Collection groups whose documents carry an expire_at timestamp that
  # Firestore's TTL deletes (within about a day of expiry).
  ttl_collections = toset(["processed_events", "step_up_claims"])
}

resource "google_firestore_database" "this" {
  count = var.manage_firestore_database ? 1 : 0

  project     = var.project_id
  name        = var.firestore_database
  location_id = coalesce(var.firestore_location, var.region)
  type        = "FIRESTORE_NATIVE"

  concurrency_mode                  = "PESSIMISTIC" # server SDK transactions take locks
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.enabled]
}

resource "google_firestore_field" "ttl" {
  for_each = local.ttl_collections

  project    = var.project_id
  database   = local.firestore_database_name
  collection = each.key
  field      = "expire_at"

  ttl_config {}

  # No single-field indexes on a monotonically growing timestamp that nothing
  # queries: they would only add write cost and hotspots.
  index_config {}
}

# Review queue: risk_profiles where review_state == X order by updated_at desc.
resource "google_firestore_index" "review_queue" {
  project     = var.project_id
  database    = local.firestore_database_name
  collection  = "risk_profiles"
  query_scope = "COLLECTION"

  fields {
    field_path = "review_state"
    order      = "ASCENDING"
  }

  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}

resource "google_firebaserules_ruleset" "firestore" {
  project = var.project_id

  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/firestore.rules")
    }
  }

  # Rulesets are immutable: a change creates a new one, which the release
  # must point at before the old one can go.
  lifecycle {
    create_before_destroy = true
  }

  depends_on = [google_project_service.enabled]
}

resource "google_firebaserules_release" "firestore" {
  project      = var.project_id
  name         = local.firestore_database_name == "(default)" ? "cloud.firestore" : "cloud.firestore/${local.firestore_database_name}"
  ruleset_name = "projects/${var.project_id}/rulesets/${google_firebaserules_ruleset.firestore.name}"

  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.firestore]
  }
}
