# expect: An argument named "service_account" is not expected here
resource "google_pubsub_subscription" "negative" {
  name  = "negative"
  topic = "projects/p/topics/t"

  push_config {
    push_endpoint = "https://example.invalid/push"
    oidc_token {
      service_account = "push@p.iam.gserviceaccount.com"
    }
  }
}
