# expect: Incorrect attribute value type.*a number is required
resource "google_pubsub_subscription" "negative" {
  name  = "negative"
  topic = "projects/p/topics/t"

  dead_letter_policy {
    dead_letter_topic     = "projects/p/topics/dlq"
    max_delivery_attempts = "five"
  }
}
