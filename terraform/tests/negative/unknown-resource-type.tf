# expect: Invalid resource type.*google_pubsub_topics
resource "google_pubsub_topics" "negative" {
  name = "negative"
}
