terraform {
  # terraform test with mock-free plan runs and cross-variable validation need >= 1.9.
  required_version = ">= 1.9"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.x only: the configuration is written and checked against the 6.50.0
      # schema (see standin-provider/). 7.x changes defaults and removes
      # arguments; move to it deliberately, with a regenerated schema.
      version = "~> 6.50"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}
