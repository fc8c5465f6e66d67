# The functions' configuration, Firestore and monitoring, as planned.

variables {
  project_id     = "didit-risk-check"
  source_archive = "tests/fixtures/placeholder-source.zip"
  step_up_workflows = {
    poa = "wf-poa-0001"
    nfc = "wf-nfc-0001"
  }
  didit_callback_url = "https://app.example.com/verification/done"
}

run "defaults" {
  command = plan

  assert {
    condition = {
      for k, f in google_cloudfunctions2_function.fn : k => "${f.build_config[0].runtime} ${f.build_config[0].entry_point}"
    } == { receiver = "go126 Receiver", scorer = "go126 Scorer", stepup = "go126 StepUp" }
    error_message = "Runtime or entry points changed."
  }

  # All three build from the one uploaded archive, named by its content.
  assert {
    condition = length(toset([
      for f in google_cloudfunctions2_function.fn : f.build_config[0].source[0].storage_source[0].object
    ])) == 1 && startswith(google_storage_bucket_object.source.name, "source-")
    error_message = "The functions must share one content-addressed source archive."
  }

  assert {
    condition = google_cloudfunctions2_function.fn["receiver"].service_config[0].environment_variables == tomap({
      GOOGLE_CLOUD_PROJECT   = "didit-risk-check"
      LOG_FORMAT             = "json"
      WEBHOOKS_TOPIC         = "didit-webhooks"
      MAX_BODY_BYTES         = "2097152"
      TIMESTAMP_TOLERANCE    = "300s"
      ALLOW_SIMPLE_SIGNATURE = "false"
      PUBLISH_TIMEOUT        = "3s"
    })
    error_message = "Receiver environment changed."
  }

  assert {
    condition = google_cloudfunctions2_function.fn["scorer"].service_config[0].environment_variables == tomap({
      GOOGLE_CLOUD_PROJECT = "didit-risk-check"
      LOG_FORMAT           = "json"
      FIRESTORE_DATABASE   = "(default)"
      DECISIONS_TOPIC      = "risk-decisions"
      ASSESSMENT_RETENTION = "9600h"
      HUMAN_OVERRIDE_TTL   = "720h"
      DOWNGRADE_COOLDOWN   = "24h"
    })
    error_message = "Scorer environment changed (POLICY_FILE only when policy_file is set)."
  }

  assert {
    condition = google_cloudfunctions2_function.fn["stepup"].service_config[0].environment_variables == tomap({
      GOOGLE_CLOUD_PROJECT     = "didit-risk-check"
      LOG_FORMAT               = "json"
      FIRESTORE_DATABASE       = "(default)"
      DIDIT_API_URL            = "https://verification.didit.me"
      DIDIT_CALLBACK_URL       = "https://app.example.com/verification/done"
      STEP_UP_WORKFLOWS        = "nfc=wf-nfc-0001,poa=wf-poa-0001"
      DIDIT_BLOCKLIST_ON_BLOCK = "false"
      FACE_SEARCH              = "false"
      FACE_SEARCH_TYPE         = "blocklisted_or_approved"
      FACE_SEARCH_MIN_LEVEL    = "high"
      DIDIT_MEDIA_HOSTS        = ""
      DIDIT_REVIEW_REQUESTS    = "true"
      DIDIT_DECLINE_ON_BLOCK   = "false"
      WEBHOOKS_TOPIC           = "didit-webhooks"
    })
    error_message = "Step-up environment changed."
  }

  # Push ack deadlines cover the function timeouts.
  assert {
    condition = alltrue([
      for k, s in google_pubsub_subscription.push :
      s.ack_deadline_seconds >= google_cloudfunctions2_function.fn[{
        scorer = "scorer", webhooks_refetch = "stepup", stepup = "stepup", stepup_review = "stepup", stepup_block = "stepup", stepup_face_search = "stepup"
      }[k]].service_config[0].timeout_seconds
    ])
    error_message = "A push subscription's ack deadline is shorter than its function's timeout."
  }

  assert {
    condition = alltrue([
      for f in google_cloudfunctions2_function.fn :
      f.service_config[0].max_instance_request_concurrency == 1 || tonumber(f.service_config[0].available_cpu) >= 1
    ])
    error_message = "Concurrency above 1 needs at least 1 vCPU."
  }
}

run "image_cleanup" {
  command = plan

  # Images do not pile up: the newest 10 versions stay, older ones go after 30 days.
  assert {
    condition = (
      !google_artifact_registry_repository.functions.cleanup_policy_dry_run &&
      toset([
        for p in google_artifact_registry_repository.functions.cleanup_policies :
        "${p.id} ${p.action} ${try(p.most_recent_versions[0].keep_count, "-")} ${try(p.condition[0].older_than, "-")}"
      ]) == toset(["keep-recent KEEP 10 -", "delete-old DELETE - 2592000s"])
    )
    error_message = "The functions' repository must keep the 10 newest versions and delete older images after 30 days."
  }
}

run "shadow_policy_file" {
  command = plan

  variables {
    policy_file        = "policies/live.yaml"
    shadow_policy_file = "policies/candidate.yaml"
  }

  assert {
    condition = (
      google_cloudfunctions2_function.fn["scorer"].service_config[0].environment_variables["SHADOW_POLICY_FILE"] == "/workspace/serverless_function_source_code/policies/candidate.yaml" &&
      google_cloudfunctions2_function.fn["scorer"].service_config[0].environment_variables["POLICY_FILE"] == "/workspace/serverless_function_source_code/policies/live.yaml"
    )
    error_message = "SHADOW_POLICY_FILE must point into the uploaded source beside POLICY_FILE (off by default: see the defaults run)."
  }
}

run "policy_file" {
  command = plan

  variables {
    policy_file = "policies/strict.yaml"
  }

  assert {
    condition     = google_cloudfunctions2_function.fn["scorer"].service_config[0].environment_variables["POLICY_FILE"] == "/workspace/serverless_function_source_code/policies/strict.yaml"
    error_message = "POLICY_FILE must point into the uploaded source as the buildpack lays it out."
  }

  assert {
    condition = {
      for k, f in google_firestore_field.ttl : k => "${f.collection} ${f.database} ${f.field} ${length(f.ttl_config)}"
      } == {
      processed_events = "processed_events (default) expire_at 1"
      step_up_claims   = "step_up_claims (default) expire_at 1"
      assessments      = "assessments (default) expire_at 1"
    }
    error_message = "TTL policies on expire_at of processed_events, step_up_claims and assessments are required."
  }

  # A TTL field is a growing timestamp nothing queries: no single-field indexes.
  assert {
    condition = alltrue([
      for f in google_firestore_field.ttl : length(f.index_config) == 1 && length(f.index_config[0].indexes) == 0
    ])
    error_message = "TTL fields must be exempt from single-field indexing."
  }

  # Exactly the maps nobody queries are exempt from indexing (an empty
  # index_config: no single-field index at all).
  assert {
    condition = toset([
      for f in google_firestore_field.unindexed : "${f.database} ${f.collection}.${f.field}"
      if length(f.index_config) == 1 && length(f.index_config[0].indexes) == 0 && length(f.ttl_config) == 0
      ]) == toset([
      "(default) risk_profiles.sessions",
      "(default) risk_profiles.step_ups",
      "(default) risk_profiles.document_hashes",
      "(default) risk_profiles.device_hashes",
      "(default) risk_profiles.reasons",
      "(default) risk_profiles.aggregates",
      "(default) assessments.signals",
      "(default) assessments.session_signals",
      "(default) assessments.history",
      "(default) assessments.reasons",
      "(default) assessments.shadow_rules",
      "(default) assessments.shadow_policy",
      "(default) assessments.rule_errors",
      "(default) assessments.model",
    ]) && length(google_firestore_field.unindexed) == 14
    error_message = "Index exemptions changed: exactly the unqueried maps of risk_profiles and assessments must have an empty index_config."
  }

  # What the review queue and product code query keeps its indexes.
  assert {
    condition = length([
      for f in concat(values(google_firestore_field.unindexed), values(google_firestore_field.ttl)) : f
      if contains(["review_state", "updated_at", "action", "level", "score"], f.field)
    ]) == 0
    error_message = "review_state, updated_at, action, level and score are queried: they must keep their single-field indexes."
  }

  assert {
    condition = (
      google_firestore_index.review_queue.collection == "risk_profiles" &&
      [for f in google_firestore_index.review_queue.fields : "${f.field_path} ${f.order}"] == ["review_state ASCENDING", "updated_at DESCENDING"]
    )
    error_message = "Review-queue index must be risk_profiles (review_state ASC, updated_at DESC)."
  }

  assert {
    condition = (
      google_firebaserules_release.firestore.name == "cloud.firestore" &&
      strcontains(google_firebaserules_ruleset.firestore.source[0].files[0].content, "allow read, write: if false;") &&
      !strcontains(google_firebaserules_ruleset.firestore.source[0].files[0].content, "if true")
    )
    error_message = "Firestore rules must deny every client-SDK access."
  }

  assert {
    condition     = google_firestore_database.this[0].type == "FIRESTORE_NATIVE" && google_firestore_database.this[0].delete_protection_state == "DELETE_PROTECTION_ENABLED"
    error_message = "The database must be native mode and protected against deletion."
  }

  assert {
    condition = length(google_monitoring_alert_policy.dead_letters.conditions) == 2 && alltrue([
      for c in google_monitoring_alert_policy.dead_letters.conditions :
      strcontains(c.condition_threshold[0].filter, "num_undelivered_messages") && c.condition_threshold[0].threshold_value == 0
    ])
    error_message = "Alert on any message in either dead-letter subscription."
  }

  assert {
    condition = length(google_monitoring_alert_policy.push_backlog_age.conditions) == length(google_pubsub_subscription.push) && alltrue([
      for c in google_monitoring_alert_policy.push_backlog_age.conditions :
      strcontains(c.condition_threshold[0].filter, "oldest_unacked_message_age")
    ])
    error_message = "Alert on the oldest unacked message age of every push subscription."
  }

  assert {
    condition     = length(google_monitoring_alert_policy.dead_letters.notification_channels) == 0
    error_message = "No notification channels unless given."
  }
}

run "assessment_retention" {
  command = plan

  variables {
    assessment_retention_days = 30
  }

  assert {
    condition     = google_cloudfunctions2_function.fn["scorer"].service_config[0].environment_variables["ASSESSMENT_RETENTION"] == "720h"
    error_message = "ASSESSMENT_RETENTION must be assessment_retention_days as a Go duration in hours."
  }
}

run "decision_layer_off" {
  command = plan

  variables {
    human_override_ttl_hours = 0
    downgrade_cooldown_hours = 0
  }

  assert {
    condition = (google_cloudfunctions2_function.fn["scorer"].service_config[0].environment_variables["HUMAN_OVERRIDE_TTL"] == "0h" &&
    google_cloudfunctions2_function.fn["scorer"].service_config[0].environment_variables["DOWNGRADE_COOLDOWN"] == "0h")
    error_message = "0 hours reaches the scorer as 0h, which turns the expiry and the cooldown off."
  }
}

run "rejects_bad_retention" {
  command = plan

  variables {
    assessment_retention_days = 0.5
  }

  expect_failures = [var.assessment_retention_days]
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    max_delivery_attempts = 3
    name_prefix           = "a-name-prefix-that-is-too-long"
  }

  expect_failures = [var.max_delivery_attempts, var.name_prefix]
}

run "requires_the_source_archive" {
  command = plan

  variables {
    source_archive = "tests/fixtures/missing.zip"
  }

  expect_failures = [google_storage_bucket_object.source]
}
