# Firestore (native mode): the database, TTL policies on the dedupe markers,
# step-up claims and assessments, index exemptions for the maps nobody queries,
# the operators' review-queue index, and security rules that shut out the
# client SDKs. The functions use server SDKs with IAM, which
# rules do not apply to.

locals {
  firestore_database_name = var.manage_firestore_database ? google_firestore_database.this[0].name : var.firestore_database

  # Collection groups whose documents carry an expire_at timestamp that
  # Firestore's TTL deletes (within about a day of expiry). Assessments
  # expire var.assessment_retention_days after they are written (the scorer
  # sets expire_at from ASSESSMENT_RETENTION); the profile's per-user
  # aggregates keep what risk needs after the details are gone.
  ttl_collections = toset(["processed_events", "step_up_claims", "assessments"])

  # Maps that are written on every webhook but never queried: Firestore
  # indexes every field (and every subfield of a map) unless told otherwise,
  # which multiplies the index entries written per document. What the review
  # queue and product code query keeps its indexes: review_state and
  # updated_at (the composite below), and action, level, score, updated_at.
  # Collection ids here are collection groups (assessments sit under
  # risk_profiles/{id}/).
  unindexed_fields = {
    risk_profiles = ["sessions", "step_ups", "document_hashes", "device_hashes", "reasons", "aggregates"]
    assessments   = ["signals", "session_signals", "history", "reasons", "shadow_rules", "shadow_policy", "rule_errors", "model"]
  }
  index_exemptions = merge([
    for collection, fields in local.unindexed_fields : {
      for field in fields : "${collection}/${field}" => { collection = collection, field = field }
    }
  ]...)
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

# Index exemptions: an empty index_config removes every single-field index
# (ascending, descending, array-contains, at collection and collection-group
# scope) of the field and, for a map, of all its subfields.
resource "google_firestore_field" "unindexed" {
  for_each = local.index_exemptions

  project    = var.project_id
  database   = local.firestore_database_name
  collection = each.value.collection
  field      = each.value.field

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
