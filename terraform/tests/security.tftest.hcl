# Security-relevant properties of the plan: who may invoke what, which identity
# reads which secret or publishes where, and that no push delivery can be lost
# without a dead letter. Plans only (run offline by `make tf-check` against the
# stand-in provider); every value asserted is known at plan time.

variables {
  project_id     = "didit-risk-check"
  source_archive = "tests/fixtures/placeholder-source.zip"
}

run "access_control" {
  command = plan

  # Didit reaches the receiver from the internet; only the push identity may
  # invoke the event functions. Exactly these three grants, no others.
  assert {
    condition = {
      for m in google_cloud_run_service_iam_member.invoker : m.service => "${m.role} ${m.member}"
      } == {
      "didit-risk-receiver" = "roles/run.invoker allUsers"
      "didit-risk-scorer"   = "roles/run.invoker serviceAccount:didit-risk-push-invoker@didit-risk-check.iam.gserviceaccount.com"
      "didit-risk-stepup"   = "roles/run.invoker serviceAccount:didit-risk-push-invoker@didit-risk-check.iam.gserviceaccount.com"
    }
    error_message = "Invoker grants changed: receiver must be public, scorer and step-up invocable by the push identity only."
  }

  assert {
    condition = {
      for k, f in google_cloudfunctions2_function.fn : k => f.service_config[0].ingress_settings
    } == { receiver = "ALLOW_ALL", scorer = "ALLOW_INTERNAL_ONLY", stepup = "ALLOW_INTERNAL_ONLY" }
    error_message = "Only the receiver may take internet traffic; the event functions take Pub/Sub push (internal) only."
  }

  # The push identity signs the OIDC token of every push subscription.
  assert {
    condition = alltrue([
      for s in google_pubsub_subscription.push :
      s.push_config[0].oidc_token[0].service_account_email == "didit-risk-push-invoker@didit-risk-check.iam.gserviceaccount.com"
    ])
    error_message = "Every push subscription must authenticate as the push-invoker service account."
  }

  # No public principal outside the receiver's invoker grant.
  assert {
    condition = alltrue([
      for m in concat(
        values(google_secret_manager_secret_iam_member.accessor)[*].member,
        values(google_pubsub_topic_iam_member.publisher)[*].member,
        values(google_pubsub_subscription_iam_member.dead_letter_subscriber)[*].member,
        values(google_project_iam_member.this)[*].member,
        [google_service_account_iam_member.push_token_creator.member],
        [google_storage_bucket_iam_member.builder_source.member],
        [google_artifact_registry_repository_iam_member.builder.member],
      ) : !contains(["allUsers", "allAuthenticatedUsers"], m)
    ])
    error_message = "A grant other than the receiver's invoker names allUsers or allAuthenticatedUsers."
  }

  # receiver -> webhook secret only; scorer -> hash key only; step-up -> API key only.
  assert {
    condition = toset([
      for m in google_secret_manager_secret_iam_member.accessor : "${m.secret_id} ${m.role} ${m.member}"
      ]) == toset([
      "didit-risk-didit-webhook-secret roles/secretmanager.secretAccessor serviceAccount:didit-risk-receiver@didit-risk-check.iam.gserviceaccount.com",
      "didit-risk-hash-key roles/secretmanager.secretAccessor serviceAccount:didit-risk-scorer@didit-risk-check.iam.gserviceaccount.com",
      "didit-risk-didit-api-key roles/secretmanager.secretAccessor serviceAccount:didit-risk-stepup@didit-risk-check.iam.gserviceaccount.com",
    ])
    error_message = "Secret access changed: each function's account must read exactly its own secret."
  }

  # Each function runs as its own account and mounts exactly its secret.
  assert {
    condition = {
      for k, f in google_cloudfunctions2_function.fn : k => {
        account = f.service_config[0].service_account_email
        secrets = [for s in f.service_config[0].secret_environment_variables : "${s.key}=${s.secret}:${s.version}"]
      }
      } == {
      receiver = { account = "didit-risk-receiver@didit-risk-check.iam.gserviceaccount.com", secrets = ["DIDIT_WEBHOOK_SECRET=didit-risk-didit-webhook-secret:latest"] }
      scorer   = { account = "didit-risk-scorer@didit-risk-check.iam.gserviceaccount.com", secrets = ["HASH_KEYS=didit-risk-hash-key:latest"] }
      stepup   = { account = "didit-risk-stepup@didit-risk-check.iam.gserviceaccount.com", secrets = ["DIDIT_API_KEY=didit-risk-didit-api-key:latest"] }
    }
    error_message = "A function runs as another function's account or mounts a secret it should not."
  }

  # Secret values never pass through Terraform: only the secrets, no versions.
  assert {
    condition     = length(google_secret_manager_secret.this) == 3
    error_message = "Expected exactly the webhook secret, the API key and the hash key."
  }

  assert {
    condition = toset([
      for m in google_pubsub_topic_iam_member.publisher : "${m.topic} ${m.role} ${m.member}"
      ]) == toset([
      "didit-webhooks roles/pubsub.publisher serviceAccount:didit-risk-receiver@didit-risk-check.iam.gserviceaccount.com",
      "didit-webhooks roles/pubsub.publisher serviceAccount:didit-risk-stepup@didit-risk-check.iam.gserviceaccount.com",
      "risk-decisions roles/pubsub.publisher serviceAccount:didit-risk-scorer@didit-risk-check.iam.gserviceaccount.com",
      "didit-webhooks-dlq roles/pubsub.publisher serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com",
      "risk-decisions-dlq roles/pubsub.publisher serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com",
    ])
    error_message = "Topic publishers changed: receiver and step-up (refetched decisions) -> webhooks, scorer -> decisions, Pub/Sub service agent -> DLQs only."
  }

  assert {
    condition = toset([
      for m in google_project_iam_member.this : "${m.role} ${m.member}"
      ]) == toset([
      "roles/datastore.user serviceAccount:didit-risk-scorer@didit-risk-check.iam.gserviceaccount.com",
      "roles/datastore.user serviceAccount:didit-risk-stepup@didit-risk-check.iam.gserviceaccount.com",
      "roles/logging.logWriter serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com",
    ])
    error_message = "Project-level roles changed: only Firestore for scorer and step-up, and log writing for the builder."
  }
}

# Least privilege at build time: the builder account can write its logs, read
# the source archive and push to the functions' own image repository, and
# nothing else (issue 12).
run "builder_least_privilege" {
  command = plan

  # Every function builds as the builder, into the repository it may write.
  assert {
    condition = alltrue([
      for f in google_cloudfunctions2_function.fn :
      f.build_config[0].service_account == "projects/didit-risk-check/serviceAccounts/didit-risk-builder@didit-risk-check.iam.gserviceaccount.com" &&
      f.build_config[0].docker_repository == "projects/didit-risk-check/locations/europe-west1/repositories/didit-risk-functions"
    ])
    error_message = "Every function must build as the builder account into the didit-risk-functions repository."
  }

  assert {
    condition = (
      google_artifact_registry_repository.functions.format == "DOCKER" &&
      google_artifact_registry_repository.functions.location == "europe-west1" &&
      google_artifact_registry_repository_iam_member.builder.repository == google_artifact_registry_repository.functions.repository_id &&
      google_artifact_registry_repository_iam_member.builder.location == "europe-west1" &&
      google_artifact_registry_repository_iam_member.builder.role == "roles/artifactregistry.writer" &&
      google_artifact_registry_repository_iam_member.builder.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"
    )
    error_message = "The builder must be Artifact Registry writer on the functions' repository (and only there)."
  }

  assert {
    condition = (
      google_storage_bucket_iam_member.builder_source.bucket == google_storage_bucket.source.name &&
      google_storage_bucket_iam_member.builder_source.role == "roles/storage.objectViewer" &&
      google_storage_bucket_iam_member.builder_source.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"
    )
    error_message = "The builder must read the source bucket with objectViewer, granted on the bucket."
  }

  # Every grant naming the builder, across every kind of IAM resource here.
  assert {
    condition = toset(concat(
      [for m in google_project_iam_member.this : "project ${m.role}" if m.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"],
      [for m in google_pubsub_topic_iam_member.publisher : "topic ${m.topic} ${m.role}" if m.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"],
      [for m in google_pubsub_subscription_iam_member.dead_letter_subscriber : "subscription ${m.subscription} ${m.role}" if m.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"],
      [for m in google_secret_manager_secret_iam_member.accessor : "secret ${m.secret_id} ${m.role}" if m.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"],
      [for m in google_cloud_run_service_iam_member.invoker : "service ${m.service} ${m.role}" if m.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"],
      [for m in [google_service_account_iam_member.push_token_creator] : "service-account ${m.role}" if m.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"],
      [for m in [google_storage_bucket_iam_member.builder_source] : "bucket ${m.bucket} ${m.role}" if m.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"],
      [for m in [google_artifact_registry_repository_iam_member.builder] : "repository ${m.repository} ${m.role}" if m.member == "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"],
      )) == toset([
      "project roles/logging.logWriter",
      "bucket didit-risk-check-didit-risk-source roles/storage.objectViewer",
      "repository didit-risk-functions roles/artifactregistry.writer",
    ])
    error_message = "The builder's grants changed: logs writer (project), objectViewer (source bucket), Artifact Registry writer (functions' repository), nothing else."
  }

  # Nobody holds the broad build role, or storage or Pub/Sub roles, project-wide:
  # those reach every bucket and every topic, the webhooks topic the scorer trusts included.
  assert {
    condition = length([
      for m in google_project_iam_member.this : m.role
      if m.role == "roles/cloudbuild.builds.builder" || startswith(m.role, "roles/storage.") || startswith(m.role, "roles/pubsub.") || contains(["roles/owner", "roles/editor"], m.role)
    ]) == 0
    error_message = "No project-wide cloudbuild.builds.builder, storage (admin, objectAdmin, ...), Pub/Sub, owner or editor role."
  }

  # The builder can publish to no topic.
  assert {
    condition = alltrue([
      for m in google_pubsub_topic_iam_member.publisher : m.member != "serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com"
    ])
    error_message = "The builder must not publish to any topic."
  }
}

run "dead_letters" {
  command = plan

  assert {
    condition = alltrue([
      for k, s in google_pubsub_subscription.push :
      length(s.dead_letter_policy) == 1 && s.dead_letter_policy[0].max_delivery_attempts == (contains(["stepup", "stepup_review"], k) ? 15 : 5)
    ])
    error_message = "Every push subscription needs a dead-letter policy (5 attempts by default; 15 for step_up and review decisions, so an hour's Didit rate limit is waited out before dead-lettering)."
  }

  assert {
    condition = {
      for k, s in google_pubsub_subscription.push : k => "${s.topic} -> ${s.dead_letter_policy[0].dead_letter_topic}"
      } == {
      scorer           = "projects/didit-risk-check/topics/didit-webhooks -> projects/didit-risk-check/topics/didit-webhooks-dlq"
      webhooks_refetch = "projects/didit-risk-check/topics/didit-webhooks -> projects/didit-risk-check/topics/didit-webhooks-dlq"
      stepup           = "projects/didit-risk-check/topics/risk-decisions -> projects/didit-risk-check/topics/risk-decisions-dlq"
      stepup_review    = "projects/didit-risk-check/topics/risk-decisions -> projects/didit-risk-check/topics/risk-decisions-dlq"
    }
    error_message = "Push subscriptions or their dead-letter topics changed."
  }

  # Dead-lettering needs the service agent as subscriber on each source subscription.
  assert {
    condition = {
      for k, m in google_pubsub_subscription_iam_member.dead_letter_subscriber : k => "${m.subscription} ${m.role} ${m.member}"
      } == {
      for k, s in google_pubsub_subscription.push : k => "${s.name} roles/pubsub.subscriber serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    }
    error_message = "The Pub/Sub service agent must be subscriber on every push subscription."
  }

  assert {
    condition = alltrue([
      for s in google_pubsub_subscription.push :
      s.retry_policy[0].minimum_backoff == "10s" && s.retry_policy[0].maximum_backoff == "600s"
    ])
    error_message = "Push subscriptions must retry with exponential backoff (10s-600s by default)."
  }

  # DLQs are pull subscriptions that keep acknowledged messages for replay.
  assert {
    condition = alltrue([
      for s in google_pubsub_subscription.dlq :
      length(s.push_config) == 0 && s.retain_acked_messages && s.message_retention_duration == "604800s"
    ]) && length(google_pubsub_subscription.dlq) == 2
    error_message = "Each dead-letter topic needs a pull subscription retaining messages for 7 days."
  }

  assert {
    condition     = !contains(keys(google_pubsub_subscription.push), "stepup_block")
    error_message = "Block decisions must reach the step-up function only with didit_blocklist_on_block or didit_decline_on_block."
  }
}

# Webhooks whose decision no signature covered (X-Signature-Simple only) go to
# the step-up function, which refetches the decision from Didit (issue 10).
run "webhooks_refetch" {
  command = plan

  variables {
    stepup_limits = { timeout_seconds = 120 }
  }

  assert {
    condition = {
      for k, s in google_pubsub_subscription.push : k => coalesce(s.filter, "(all)")
      } == {
      scorer           = "(all)"
      webhooks_refetch = "NOT attributes.decision_authenticated = \"true\""
      stepup           = "attributes.action = \"step_up\" OR attributes:step_up_kind"
      stepup_review    = "attributes.action = \"review\" AND NOT attributes:step_up_kind"
    }
    error_message = "Filters changed: the refetch subscription takes every webhook not marked decision_authenticated=\"true\" (a missing attribute is untrusted)."
  }

  assert {
    condition = (
      google_pubsub_subscription.push["webhooks_refetch"].name == "didit-risk-webhooks-refetch" &&
      google_pubsub_subscription.push["webhooks_refetch"].topic == "projects/didit-risk-check/topics/didit-webhooks"
    )
    error_message = "The refetch subscription must be didit-risk-webhooks-refetch on the webhooks topic."
  }

  # It feeds the step-up function: its ack deadline follows that function's
  # timeout (120 s here, the scorer's 60 s default).
  assert {
    condition = (
      google_pubsub_subscription.push["webhooks_refetch"].ack_deadline_seconds == 130 &&
      google_pubsub_subscription.push["scorer"].ack_deadline_seconds == 70
    )
    error_message = "The refetch subscription must push to the step-up function (ack deadline from its timeout)."
  }

  assert {
    condition     = google_pubsub_subscription.push["webhooks_refetch"].push_config[0].oidc_token[0].service_account_email == "didit-risk-push-invoker@didit-risk-check.iam.gserviceaccount.com"
    error_message = "The refetch subscription must authenticate as the push identity."
  }

  assert {
    condition = (
      google_pubsub_subscription_iam_member.dead_letter_subscriber["webhooks_refetch"].subscription == "didit-risk-webhooks-refetch" &&
      google_pubsub_subscription.push["webhooks_refetch"].retry_policy[0].minimum_backoff == "10s"
    )
    error_message = "The refetch subscription needs the same retry and dead-letter setup as the others."
  }
}

run "blocklist_on_block" {
  command = plan

  variables {
    didit_blocklist_on_block = true
    max_delivery_attempts    = 7
  }

  assert {
    condition = {
      for k, s in google_pubsub_subscription.push : k => coalesce(s.filter, "(all)")
      } == {
      scorer           = "(all)"
      webhooks_refetch = "NOT attributes.decision_authenticated = \"true\""
      stepup           = "attributes.action = \"step_up\" OR attributes:step_up_kind"
      stepup_review    = "attributes.action = \"review\" AND NOT attributes:step_up_kind"
      stepup_block     = "attributes.action = \"block\""
    }
    error_message = "With didit_blocklist_on_block, a second step-up subscription takes block decisions."
  }

  assert {
    condition = alltrue([
      for k, s in google_pubsub_subscription.push :
      length(s.dead_letter_policy) == 1 && s.dead_letter_policy[0].max_delivery_attempts == (contains(["stepup", "stepup_review"], k) ? 15 : 7)
    ])
    error_message = "Every push subscription, the block one included, needs a dead-letter policy."
  }

  assert {
    condition     = google_pubsub_subscription.push["stepup_block"].push_config[0].oidc_token[0].service_account_email == "didit-risk-push-invoker@didit-risk-check.iam.gserviceaccount.com"
    error_message = "The block subscription must authenticate as the push identity."
  }

  assert {
    condition     = google_cloudfunctions2_function.fn["stepup"].service_config[0].environment_variables["DIDIT_BLOCKLIST_ON_BLOCK"] == "true"
    error_message = "The step-up function must be told to blocklist."
  }
}

# Declining blocked sessions in Didit needs block decisions too: the same
# subscription as blocklisting, with blocklisting left off.
run "decline_on_block" {
  command = plan

  variables {
    didit_decline_on_block = true
  }

  assert {
    condition     = google_pubsub_subscription.push["stepup_block"].filter == "attributes.action = \"block\""
    error_message = "With didit_decline_on_block, the block subscription takes block decisions."
  }

  assert {
    condition = (
      google_cloudfunctions2_function.fn["stepup"].service_config[0].environment_variables["DIDIT_DECLINE_ON_BLOCK"] == "true" &&
      google_cloudfunctions2_function.fn["stepup"].service_config[0].environment_variables["DIDIT_BLOCKLIST_ON_BLOCK"] == "false"
    )
    error_message = "The step-up function must be told to decline, and not to blocklist."
  }
}

# Review requests are on by default (the defaults run sees stepup_review);
# turned off, review decisions no longer reach the step-up function.
run "review_requests_off" {
  command = plan

  variables {
    didit_review_requests = false
  }

  assert {
    condition     = !contains(keys(google_pubsub_subscription.push), "stepup_review")
    error_message = "Without didit_review_requests, no subscription takes review decisions."
  }

  assert {
    condition     = google_cloudfunctions2_function.fn["stepup"].service_config[0].environment_variables["DIDIT_REVIEW_REQUESTS"] == "false"
    error_message = "The step-up function must be told not to request reviews."
  }
}
