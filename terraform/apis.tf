# APIs the deployment uses. They stay enabled on destroy: other workloads in
# the project may rely on them, and disabling an API can delete its data.
locals {
  services = toset([
    "artifactregistry.googleapis.com", # images the functions' builds produce
    "cloudbuild.googleapis.com",       # builds the function source
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com", # project data source, project IAM
    "firebaserules.googleapis.com",        # Firestore security rules
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com", # gen2 functions are Cloud Run services
    "secretmanager.googleapis.com",
    "storage.googleapis.com", # source archive bucket
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# The project number names the Pub/Sub service agent, which publishes dead
# letters and mints the push subscriptions' OIDC tokens. No depends_on on the
# APIs above: it would defer the read to apply time and leave every grant to
# the agent unknown in plans. Reading it needs the Cloud Resource Manager API,
# which Terraform needs anyway to manage a project.
data "google_project" "this" {
  project_id = var.project_id
}

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
