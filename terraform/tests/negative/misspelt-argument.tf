# expect: Unsupported argument.*An argument named "ack_deadline_second" is not expected here
resource "google_pubsub_subscription" "negative" {
  name                = "negative"
  topic               = "projects/p/topics/t"
  ack_deadline_second = 20
}
