# expect: Incorrect attribute value type.*environment_variables.*map of string required
resource "google_cloudfunctions2_function" "negative" {
  name     = "negative"
  location = "europe-west1"

  service_config {
    environment_variables = ["LOG_FORMAT=json"]
  }
}
