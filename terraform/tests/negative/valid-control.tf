# expect: VALID
resource "google_pubsub_subscription" "negative" {
  name                 = "negative"
  topic                = "projects/p/topics/t"
  ack_deadline_seconds = 20

  push_config {
    push_endpoint = "https://example.invalid/push"
    oidc_token {
      service_account_email = "push@p.iam.gserviceaccount.com"
    }
  }

  dead_letter_policy {
    dead_letter_topic     = "projects/p/topics/dlq"
    max_delivery_attempts = 5
  }
}
