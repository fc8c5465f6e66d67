# expect: Too many dead_letter_policy blocks
resource "google_pubsub_subscription" "negative" {
  name  = "negative"
  topic = "projects/p/topics/t"

  dead_letter_policy {
    dead_letter_topic = "projects/p/topics/dlq-a"
  }
  dead_letter_policy {
    dead_letter_topic = "projects/p/topics/dlq-b"
  }
}
