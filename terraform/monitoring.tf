# Alerts on what the retry and dead-letter machinery hides: messages that
# gave up (DLQ backlog) and messages stuck retrying (oldest unacked age).

locals {
  alert_documentation = <<-EOT
    Dead letters are webhooks or decisions a function failed to process ${var.max_delivery_attempts} times.
    Find the cause in the function's logs (severity>=ERROR, resource.labels.service_name), fix it, then
    inspect with `riskctl dlq list` (every attribute, a digest of the data, nothing consumed) and
    replay with `riskctl dlq replay -ids a,b` (or -all), which republishes data and every attribute
    to the source topic (didit-webhooks or risk-decisions) and acks only once that is confirmed
    (README, "Operating it"). Every consumer is idempotent, so replaying a message twice is safe.
  EOT
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project      = var.project_id
  display_name = "${var.name_prefix}: dead letters waiting"
  combiner     = "OR"
  severity     = "ERROR"

  dynamic "conditions" {
    for_each = local.dlq_subscriptions
    content {
      display_name = "Undelivered messages in ${conditions.value}"
      condition_threshold {
        filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dlq[conditions.key].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "60s"

        aggregations {
          alignment_period   = "60s"
          per_series_aligner = "ALIGN_MAX"
        }
      }
    }
  }

  notification_channels = var.alert_notification_channels

  documentation {
    mime_type = "text/markdown"
    content   = local.alert_documentation
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "push_backlog_age" {
  project      = var.project_id
  display_name = "${var.name_prefix}: push deliveries stuck"
  combiner     = "OR"
  severity     = "WARNING"

  dynamic "conditions" {
    for_each = local.push_subscriptions
    content {
      display_name = "Oldest unacked message in ${conditions.value.name}"
      condition_threshold {
        filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.push[conditions.key].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
        comparison      = "COMPARISON_GT"
        threshold_value = var.oldest_unacked_age_alert_seconds
        duration        = "300s"

        aggregations {
          alignment_period   = "60s"
          per_series_aligner = "ALIGN_MAX"
        }
      }
    }
  }

  notification_channels = var.alert_notification_channels

  documentation {
    mime_type = "text/markdown"
    content   = "A function is failing or too slow for its input: messages are being retried with backoff and will be dead-lettered after ${var.max_delivery_attempts} attempts. Check the function's logs and error rate.\n\n${local.alert_documentation}"
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.enabled]
}
