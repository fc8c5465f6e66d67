# expect: Insufficient replication blocks
resource "google_secret_manager_secret" "negative" {
  secret_id = "negative"
}
