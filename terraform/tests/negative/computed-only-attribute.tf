# expect: Invalid Configuration for Read-Only Attribute|Can't configure a value for "url"
resource "google_cloudfunctions2_function" "negative" {
  name     = "negative"
  location = "europe-west1"
  url      = "https://example.invalid"
}
