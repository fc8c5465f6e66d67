output "webhook_url" {
  description = "Register this URL in Didit's console as the webhook endpoint, webhook version v3, and store the signing secret Didit shows in the webhook secret (see secret_ids)."
  value       = google_cloudfunctions2_function.fn["receiver"].url
}

output "function_names" {
  description = "Function (and Cloud Run service) names."
  value       = { for k, f in google_cloudfunctions2_function.fn : k => f.name }
}

output "topics" {
  description = "Pub/Sub topic names."
  value       = { for k, t in google_pubsub_topic.this : k => t.name }
}

output "push_subscriptions" {
  description = "Push subscription names (source of the event functions)."
  value       = { for k, s in google_pubsub_subscription.push : k => s.name }
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions on the dead-letter topics: inspect and replay from these."
  value       = { for k, s in google_pubsub_subscription.dlq : k => s.name }
}

output "service_accounts" {
  description = "Service account emails."
  value       = local.service_account_emails
}

output "secret_ids" {
  description = "Secret Manager secrets to fill out of band: gcloud secrets versions add ID --data-file=-"
  value       = { for k, s in google_secret_manager_secret.this : k => s.secret_id }
}

output "source_bucket" {
  description = "Bucket holding the uploaded source archives."
  value       = google_storage_bucket.source.name
}
