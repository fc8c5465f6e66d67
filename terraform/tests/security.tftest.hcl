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
      scorer   = { account = "didit-risk-scorer@didit-risk-check.iam.gserviceaccount.com", secrets = ["HASH_KEY=didit-risk-hash-key:latest"] }
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
      "risk-decisions roles/pubsub.publisher serviceAccount:didit-risk-scorer@didit-risk-check.iam.gserviceaccount.com",
      "didit-webhooks-dlq roles/pubsub.publisher serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com",
      "risk-decisions-dlq roles/pubsub.publisher serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com",
    ])
    error_message = "Topic publishers changed: receiver -> webhooks, scorer -> decisions, Pub/Sub service agent -> DLQs only."
  }

  assert {
    condition = toset([
      for m in google_project_iam_member.this : "${m.role} ${m.member}"
      ]) == toset([
      "roles/datastore.user serviceAccount:didit-risk-scorer@didit-risk-check.iam.gserviceaccount.com",
      "roles/datastore.user serviceAccount:didit-risk-stepup@didit-risk-check.iam.gserviceaccount.com",
      "roles/cloudbuild.builds.builder serviceAccount:didit-risk-builder@didit-risk-check.iam.gserviceaccount.com",
    ])
    error_message = "Project-level roles changed: only Firestore for scorer and step-up, and the build role for the builder."
  }
}

run "dead_letters" {
  command = plan

  assert {
    condition = alltrue([
      for s in google_pubsub_subscription.push :
      length(s.dead_letter_policy) == 1 && s.dead_letter_policy[0].max_delivery_attempts == 5
    ])
    error_message = "Every push subscription needs a dead-letter policy (5 attempts by default)."
  }

  assert {
    condition = {
      for k, s in google_pubsub_subscription.push : k => "${s.topic} -> ${s.dead_letter_policy[0].dead_letter_topic}"
      } == {
      scorer = "projects/didit-risk-check/topics/didit-webhooks -> projects/didit-risk-check/topics/didit-webhooks-dlq"
      stepup = "projects/didit-risk-check/topics/risk-decisions -> projects/didit-risk-check/topics/risk-decisions-dlq"
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
    error_message = "Block decisions must reach the step-up function only with didit_blocklist_on_block."
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
      scorer       = "(all)"
      stepup       = "attributes.action = \"step_up\""
      stepup_block = "attributes.action = \"block\""
    }
    error_message = "With didit_blocklist_on_block, a second step-up subscription takes block decisions."
  }

  assert {
    condition = alltrue([
      for s in google_pubsub_subscription.push :
      length(s.dead_letter_policy) == 1 && s.dead_letter_policy[0].max_delivery_attempts == 7
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
