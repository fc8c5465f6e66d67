# expect: Missing required argument.*The argument "secret_id" is required
resource "google_secret_manager_secret" "negative" {
  replication {
    auto {}
  }
}
