# Identities and every grant the system needs, each as narrow as the API
# allows: topic-, subscription-, secret-, bucket-, repository- and
# service-level where possible; project-level only for Firestore (which has no
# finer IAM) and the build's log writing.

locals {
  service_accounts = {
    receiver     = "Didit risk: webhook receiver (publishes webhooks)"
    scorer       = "Didit risk: scorer (Firestore, publishes decisions)"
    stepup       = "Didit risk: step-up (Firestore, Didit API)"
    push_invoker = "Didit risk: Pub/Sub push identity (invokes scorer and step-up)"
    builder      = "Didit risk: builds the functions (Cloud Build)"
  }

  # Built from the account ids rather than read from the accounts' computed
  # email, so that every grant below is known, and reviewable, at plan time.
  service_account_emails = {
    for k, sa in google_service_account.this : k => "${sa.account_id}@${sa.project}.iam.gserviceaccount.com"
  }
  sa_member = { for k, email in local.service_account_emails : k => "serviceAccount:${email}" }

  # Who may invoke which function: Didit (anyone) the receiver; only the push
  # identity the event functions.
  invokers = {
    receiver = "allUsers"
    scorer   = local.sa_member.push_invoker
    stepup   = local.sa_member.push_invoker
  }

  # Each function reads exactly the secrets it mounts.
  secret_accessors = merge([
    for fn, f in local.functions : {
      for env, secret in f.secret_env : "${fn}/${secret}" => { secret = secret, member = local.sa_member[fn] }
    }
  ]...)

  topic_publishers = {
    "receiver/webhooks"          = { topic = "webhooks", member = local.sa_member.receiver }
    "stepup/webhooks"            = { topic = "webhooks", member = local.sa_member.stepup } # republishes refetched decisions
    "scorer/decisions"           = { topic = "decisions", member = local.sa_member.scorer }
    "pubsub-agent/webhooks_dlq"  = { topic = "webhooks_dlq", member = local.pubsub_service_agent }
    "pubsub-agent/decisions_dlq" = { topic = "decisions_dlq", member = local.pubsub_service_agent }
  }

  # The builder runs the functions' Cloud Build builds (build_config's
  # service_account). It gets what such a build does and nothing more,
  # instead of roles/cloudbuild.builds.builder on the project, which can
  # write to every bucket and repository of the project and more:
  #   - write the build's logs: roles/logging.logWriter, on the project (log
  #     entries are written to a project);
  #   - read the uploaded source: roles/storage.objectViewer on the source
  #     bucket only (the build fetches the object build_config names);
  #   - push the image and the buildpack's cache image:
  #     roles/artifactregistry.writer on the functions' own repository only
  #     (functions.tf).
  # No Pub/Sub, Firestore, Secret Manager or Cloud Run role: a build runs no
  # application code against them, and deploying the built image is done by
  # the Cloud Functions service agent, not by the build.
  project_roles = {
    "scorer/datastore" = { role = "roles/datastore.user", member = local.sa_member.scorer }
    "stepup/datastore" = { role = "roles/datastore.user", member = local.sa_member.stepup }
    "builder/logging"  = { role = "roles/logging.logWriter", member = local.sa_member.builder }
  }
}

resource "google_service_account" "this" {
  for_each = local.service_accounts

  project      = var.project_id
  account_id   = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  display_name = each.value

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "this" {
  for_each = local.project_roles

  project = var.project_id
  role    = each.value.role
  member  = each.value.member
}

resource "google_storage_bucket_iam_member" "builder_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = local.sa_member.builder
}

resource "google_artifact_registry_repository_iam_member" "builder" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.functions.repository_id
  role       = "roles/artifactregistry.writer"
  member     = local.sa_member.builder
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_accessors

  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.topic_publishers

  project = var.project_id
  topic   = google_pubsub_topic.this[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = each.value.member
}

# Dead-lettering needs the service agent to acknowledge on the source
# subscription as well as to publish to the dead-letter topic.
resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.push_subscriptions

  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# The service agent mints the push identity's OIDC tokens (required for
# projects created before April 2021, harmless after).
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = google_service_account.this["push_invoker"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Gen2 functions are Cloud Run services of the same name; invoking one needs
# run.invoker on the service. The receiver's allUsers grant is what lets Didit
# call it; its protection is the webhook signature. (An organization policy
# restricting domains, iam.allowedPolicyMemberDomains, rejects allUsers: the
# project needs an exception for it.)
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = local.invokers

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = each.value
}
