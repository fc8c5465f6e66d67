# expect: Did you mean to define a block of type "retry_policy"\?
resource "google_pubsub_subscription" "negative" {
  name  = "negative"
  topic = "projects/p/topics/t"
  retry_policy = {
    minimum_backoff = "10s"
  }
}
