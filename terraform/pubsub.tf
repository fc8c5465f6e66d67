# Topics (names fixed by the application's defaults, WEBHOOKS_TOPIC and
# DECISIONS_TOPIC) and the Terraform-owned push subscriptions that feed the
# event functions.
#
# Why no event_trigger: a trigger-managed subscription cannot be given a
# dead-letter policy from Terraform. These push subscriptions carry one, with
# an OIDC token of a dedicated push-invoker account and an exponential retry
# policy. Each pushes to <function URI>/projects/<project>/topics/<topic>:
# the Functions Framework turns a wrapped push on such a path into a
# google.cloud.pubsub.topic.v1.messagePublished CloudEvent.
#
# Dead letters: each DLQ topic has a pull subscription ("<dlq topic>-pull")
# that keeps messages (acknowledged ones too) for var.dead_letter_retention.
# Inspect and replay them with riskctl (README, "Operating it"):
#   riskctl dlq list; riskctl dlq replay -ids a,b
# which republishes data and every attribute to the source topic once the
# cause is fixed; or seek the DLQ subscription back in time to pull again.
# emulator/topology.go declares the same names (a Go test pins them here).

locals {
  topics = {
    webhooks      = "didit-webhooks"
    decisions     = "risk-decisions"
    webhooks_dlq  = "didit-webhooks-dlq"
    decisions_dlq = "risk-decisions-dlq"
  }

  # The exact Pub/Sub filter of each filtered push subscription, keyed like
  # local.push_subscriptions. A Go test reads these strings to tie them to the
  # message attribute names and values the code publishes: keep each on one
  # line, as a plain string literal.
  #   webhooks_refetch: webhooks whose decision the signature did not cover
  #     (X-Signature-Simple only) go to the step-up function, the only one with
  #     Didit's API key, which fetches the decision from Didit and republishes
  #     it. Fail closed: a message without the attribute is untrusted too.
  #   stepup, stepup_review, stepup_block: one subscription per decision
  #     action the step-up function acts on; stepup also takes every decision
  #     about a step-up session (step_up_kind set, whatever its action), so that
  #     completing one Didit session settles every claim it answers, which is
  #     why stepup_review leaves those out. Review and block decisions get
  #     subscriptions of their own, switched by their variables, rather than a
  #     wider stepup filter: changing a filter replaces the subscription and
  #     drops its backlog of pending step-ups.
  subscription_filters = {
    webhooks_refetch = "NOT attributes.decision_authenticated = \"true\""
    stepup           = "attributes.action = \"step_up\" OR attributes:step_up_kind"
    stepup_review    = "attributes.action = \"review\" AND NOT attributes:step_up_kind"
    stepup_block     = "attributes.action = \"block\""
  }

  # stepup_face_search: the decisions whose level reaches face_search_min_level
  # (Pub/Sub filters compare strings, so one literal per minimum level). The
  # step-up function ignores what it does not handle.
  face_search_filters = {
    low      = "attributes:level"
    medium   = "attributes.level = \"medium\" OR attributes.level = \"high\" OR attributes.level = \"critical\""
    high     = "attributes.level = \"high\" OR attributes.level = \"critical\""
    critical = "attributes.level = \"critical\""
  }

  # Push subscriptions: which topic, which function, which messages. The
  # scorer takes every webhook: it scores only what a signature covered and
  # leaves the rest to the refetch path. (A filter cannot be changed in
  # place: changing one replaces the subscription and drops its backlog.)
  push_subscriptions = merge(
    {
      scorer = {
        name                  = "${var.name_prefix}-scorer"
        topic                 = "webhooks"
        dlq                   = "webhooks_dlq"
        function              = "scorer"
        filter                = null
        max_delivery_attempts = var.max_delivery_attempts
      }
      webhooks_refetch = {
        name                  = "${var.name_prefix}-webhooks-refetch"
        topic                 = "webhooks"
        dlq                   = "webhooks_dlq"
        function              = "stepup"
        filter                = local.subscription_filters.webhooks_refetch
        max_delivery_attempts = var.max_delivery_attempts
      }
      stepup = {
        name     = "${var.name_prefix}-stepup"
        topic    = "decisions"
        dlq      = "decisions_dlq"
        function = "stepup"
        filter   = local.subscription_filters.stepup
        # A Didit rate limit can ask to wait an hour (the sandbox quota): the
        # step stays pending with its retry_at, and enough attempts at the
        # maximum backoff cover that wait before the message is dead-lettered.
        max_delivery_attempts = var.stepup_max_delivery_attempts
      }
    },
    var.didit_review_requests ? {
      stepup_review = {
        name     = "${var.name_prefix}-stepup-review"
        topic    = "decisions"
        dlq      = "decisions_dlq"
        function = "stepup"
        filter   = local.subscription_filters.stepup_review
        # A review request waits out Didit's rate limits as a step-up does.
        max_delivery_attempts = var.stepup_max_delivery_attempts
      }
    } : {},
    var.didit_blocklist_on_block || var.didit_decline_on_block ? {
      stepup_block = {
        name                  = "${var.name_prefix}-stepup-block"
        topic                 = "decisions"
        dlq                   = "decisions_dlq"
        function              = "stepup"
        filter                = local.subscription_filters.stepup_block
        max_delivery_attempts = var.max_delivery_attempts
      }
    } : {},
    # A separate subscription, so that turning Face Search on or off never
    # replaces (and drops the backlog of) the step-up one.
    var.face_search_enabled ? {
      stepup_face_search = {
        name                  = "${var.name_prefix}-stepup-face-search"
        topic                 = "decisions"
        dlq                   = "decisions_dlq"
        function              = "stepup"
        filter                = local.face_search_filters[var.face_search_min_level]
        max_delivery_attempts = var.stepup_max_delivery_attempts
      }
    } : {},
  )

  dlq_subscriptions = {
    webhooks_dlq  = "${local.topics.webhooks_dlq}-pull"
    decisions_dlq = "${local.topics.decisions_dlq}-pull"
  }
}

# Full topic names, built from the topics' known arguments (not their computed
# ids) so that plans show, and tests can check, where dead letters go.
locals {
  topic_ids = { for k, t in google_pubsub_topic.this : k => "projects/${t.project}/topics/${t.name}" }
}

resource "google_pubsub_topic" "this" {
  for_each = local.topics

  project = var.project_id
  name    = each.value

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "push" {
  for_each = local.push_subscriptions

  project = var.project_id
  name    = each.value.name
  topic   = local.topic_ids[each.value.topic]
  filter  = each.value.filter

  # For push, the ack deadline is the request timeout: give the function its
  # whole timeout plus a margin, within Pub/Sub's 600 s maximum.
  ack_deadline_seconds = min(600, local.functions[each.value.function].limits.timeout_seconds + 10)

  # Never expire, however long the functions are idle.
  expiration_policy {
    ttl = ""
  }

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.fn[each.value.function].service_config[0].uri}/projects/${var.project_id}/topics/${local.topics[each.value.topic]}"

    oidc_token {
      service_account_email = local.service_account_emails.push_invoker
      audience              = google_cloudfunctions2_function.fn[each.value.function].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = local.topic_ids[each.value.dlq]
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  # Deliveries start at once: the push identity must already be allowed to
  # invoke, the service agent to mint its tokens and publish dead letters, and
  # the dead-letter topics must have their subscriptions (a message published
  # to a topic without subscriptions is lost).
  depends_on = [
    google_cloud_run_service_iam_member.invoker,
    google_pubsub_subscription.dlq,
    google_pubsub_topic_iam_member.publisher,
    google_service_account_iam_member.push_token_creator,
  ]
}

resource "google_pubsub_subscription" "dlq" {
  for_each = local.dlq_subscriptions

  project = var.project_id
  name    = each.value
  topic   = local.topic_ids[each.key]

  message_retention_duration = var.dead_letter_retention
  retain_acked_messages      = true # replay by seeking back, even after a pull acked them
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}
