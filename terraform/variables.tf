# ---- project and naming ----

variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 lowercase letters, digits and hyphens)."
  }
}

variable "region" {
  description = "Region of the functions, the source bucket and (by default) the Firestore database."
  type        = string
  default     = "europe-west1"
}

variable "name_prefix" {
  description = "Prefix of the functions, service accounts, subscriptions, secrets and bucket this module creates. The topic names are fixed by the application."
  type        = string
  default     = "didit-risk"

  validation {
    # Service account ids are 6-30 characters; the longest suffix is "-push-invoker".
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-16 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels put on every resource that takes labels (provider default_labels)."
  type        = map(string)
  default     = {}
}

# ---- source ----

variable "source_archive" {
  description = "The zip that `make package` writes (functions/cmd/package-source): the module plus a root package that imports the three functions. Defaults to build/source.zip at the repository root."
  type        = string
  default     = null
}

variable "policy_file" {
  description = "Scoring policy file inside the source archive, relative to the repository root (package it with `make package TF_POLICY_FILE=...`). Empty: the scorer's embedded default policy."
  type        = string
  default     = ""

  validation {
    condition     = var.policy_file == "" || (!startswith(var.policy_file, "/") && !strcontains(var.policy_file, ".."))
    error_message = "policy_file must be a relative path inside the repository."
  }
}

variable "shadow_policy_file" {
  description = "A candidate policy the scorer evaluates beside the live one on every webhook (SHADOW_POLICY_FILE): its verdict is stored with each assessment and never acted on. Inside the source archive, relative to the repository root (`make package TF_SHADOW_POLICY_FILE=...`). Empty: no shadow policy."
  type        = string
  default     = ""

  validation {
    condition     = var.shadow_policy_file == "" || (!startswith(var.shadow_policy_file, "/") && !strcontains(var.shadow_policy_file, ".."))
    error_message = "shadow_policy_file must be a relative path inside the repository."
  }
}

variable "human_override_ttl_hours" {
  description = "Hours a reviewer's approval in Didit's console holds against the policy's verdict on the same facts (scorer: HUMAN_OVERRIDE_TTL). 0: it never expires. A reviewer's decline never expires; either yields at once to a new session or a rule that did not fire at review time."
  type        = number
  default     = 720

  validation {
    condition     = var.human_override_ttl_hours >= 0 && floor(var.human_override_ttl_hours) == var.human_override_ttl_hours
    error_message = "human_override_ttl_hours must be a whole number of hours, 0 or more."
  }
}

variable "downgrade_cooldown_hours" {
  description = "Hours a high or critical verdict holds back a lower verdict on another session of the same user (scorer: DOWNGRADE_COOLDOWN): the lower one is recorded as policy_verdict, not applied. 0 turns the cooldown off."
  type        = number
  default     = 24

  validation {
    condition     = var.downgrade_cooldown_hours >= 0 && floor(var.downgrade_cooldown_hours) == var.downgrade_cooldown_hours
    error_message = "downgrade_cooldown_hours must be a whole number of hours, 0 or more."
  }
}

variable "runtime_source_dir" {
  description = "Where the uploaded source sits at run time. Google's Go buildpack moves it into serverless_function_source_code/ under the app directory /workspace before building, and the image keeps it there."
  type        = string
  default     = "/workspace/serverless_function_source_code"
}

# ---- application settings ----

variable "log_format" {
  description = "LOG_FORMAT of all functions: json (Cloud Logging) or text."
  type        = string
  default     = "json"

  validation {
    condition     = contains(["json", "text"], var.log_format)
    error_message = "log_format must be json or text."
  }
}

variable "max_body_bytes" {
  description = "Receiver: largest webhook body accepted (MAX_BODY_BYTES)."
  type        = number
  default     = 2097152
}

variable "timestamp_tolerance" {
  description = "Receiver: how far a webhook's timestamp may be from now (TIMESTAMP_TOLERANCE, a Go duration)."
  type        = string
  default     = "300s"
}

variable "allow_simple_signature" {
  description = "Receiver: accept Didit's X-Signature-Simple, which does not cover the decision body (ALLOW_SIMPLE_SIGNATURE). Keep false unless Didit cannot send V2 signatures."
  type        = bool
  default     = false
}

variable "publish_timeout" {
  description = "Receiver: bound on publishing a webhook to Pub/Sub, well under Didit's 5 s delivery timeout (PUBLISH_TIMEOUT)."
  type        = string
  default     = "3s"
}

variable "firestore_database" {
  description = "Firestore database id the scorer and step-up functions use (FIRESTORE_DATABASE)."
  type        = string
  default     = "(default)"
}

variable "assessment_retention_days" {
  description = "Days an assessment (the full signals and rule results behind one decision) is kept before Firestore's TTL deletes it (scorer: ASSESSMENT_RETENTION, in hours). The default, 400 days, covers a year of backtests of a new policy against past webhooks and a yearly audit of past decisions, plus a month's margin for an audit that runs late; the profile's per-user aggregates keep what risk needs beyond that."
  type        = number
  default     = 400

  validation {
    condition     = var.assessment_retention_days >= 1 && var.assessment_retention_days <= 3650 && floor(var.assessment_retention_days) == var.assessment_retention_days
    error_message = "assessment_retention_days must be a whole number of days between 1 and 3650."
  }
}

variable "manage_firestore_database" {
  description = "Create the Firestore database. Set false when the project already has it (the TTL policies, index and rules are managed either way)."
  type        = bool
  default     = true
}

variable "firestore_location" {
  description = "Firestore location (a region such as europe-west1 or a multi-region such as eur3). Defaults to var.region."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the Firestore database against deletion (delete_protection_state)."
  type        = bool
  default     = true
}

variable "didit_api_url" {
  description = "Didit API base URL (DIDIT_API_URL)."
  type        = string
  default     = "https://verification.didit.me"

  validation {
    condition     = startswith(var.didit_api_url, "https://")
    error_message = "didit_api_url must be an https URL."
  }
}

variable "didit_callback_url" {
  description = "Where Didit sends the user after a step-up session (DIDIT_CALLBACK_URL). Empty: Didit's default."
  type        = string
  default     = ""
}

variable "step_up_workflows" {
  description = "Didit workflow id per step-up kind, e.g. { nfc = \"...\", phone = \"...\", biometric = \"...\", poa = \"...\" } (STEP_UP_WORKFLOWS)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.step_up_workflows : can(regex("^[a-z][a-z0-9_]*$", k)) && can(regex("^[A-Za-z0-9_-]+$", v))
    ])
    error_message = "step_up_workflows keys must be lowercase kinds (nfc, phone, biometric, poa, ...) and values Didit workflow ids, without commas or '='."
  }
}

variable "didit_blocklist_on_block" {
  description = "Let the step-up function add blocked users to Didit's blocklist: subscribes it to block decisions too (DIDIT_BLOCKLIST_ON_BLOCK)."
  type        = bool
  default     = false
}

variable "didit_review_requests" {
  description = "Let the step-up function ask Didit's console to review sessions whose decision is review (In Review, with the rules that fired): subscribes it to review decisions (DIDIT_REVIEW_REQUESTS)."
  type        = bool
  default     = true
}

variable "didit_decline_on_block" {
  description = "Let the step-up function decline blocked sessions in Didit (update-status to Declined): subscribes it to block decisions too (DIDIT_DECLINE_ON_BLOCK)."
  type        = bool
  default     = false
}

variable "face_search_enabled" {
  description = "Run a Didit Face Search (1:N) of the session's face when a verdict reaches face_search_min_level (FACE_SEARCH): sends a biometric image to Didit's API and costs a call; off by default. Subscribes the step-up function to those decisions too."
  type        = bool
  default     = false
}

variable "face_search_type" {
  description = "FACE_SEARCH_TYPE: blocklisted_or_approved (screening) or most_similar (fraud rings)."
  type        = string
  default     = "blocklisted_or_approved"

  validation {
    condition     = contains(["blocklisted_or_approved", "most_similar"], var.face_search_type)
    error_message = "face_search_type must be blocklisted_or_approved or most_similar."
  }
}

variable "face_search_min_level" {
  description = "FACE_SEARCH_MIN_LEVEL: the lowest verdict level searched (low, medium, high, critical)."
  type        = string
  default     = "high"

  validation {
    condition     = contains(["low", "medium", "high", "critical"], var.face_search_min_level)
    error_message = "face_search_min_level must be low, medium, high or critical."
  }
}

variable "didit_media_hosts" {
  description = "DIDIT_MEDIA_HOSTS: the hosts (host[:port]) a decision's image link may point at for Face Search to download the face; empty means didit_api_url's host."
  type        = list(string)
  default     = []
}

# ---- function sizing ----
# Gen2 functions are Cloud Run services: a concurrency above 1 needs at least
# one vCPU, and memory must fit the CPU (1 vCPU: 128Mi-4Gi).

variable "receiver_limits" {
  description = "Receiver sizing. It is I/O-bound: it verifies an HMAC (microseconds) and waits on a Pub/Sub publish, so one small instance serves many requests at once (high concurrency, little memory). Didit waits 5 s per delivery; the timeout only caps stuck requests."
  type = object({
    max_instances   = optional(number, 20)
    min_instances   = optional(number, 0)
    concurrency     = optional(number, 80)
    cpu             = optional(string, "1")
    memory          = optional(string, "256Mi")
    timeout_seconds = optional(number, 30)
  })
  default = {}
}

variable "scorer_limits" {
  description = "Scorer sizing. It evaluates CEL rules (CPU) and runs a Firestore transaction per event: moderate concurrency, and few instances so that bursts for one user do not pile up contended transactions. Its timeout bounds the push subscription's ack deadline (at most 600 s)."
  type = object({
    max_instances   = optional(number, 10)
    min_instances   = optional(number, 0)
    concurrency     = optional(number, 8)
    cpu             = optional(string, "1")
    memory          = optional(string, "512Mi")
    timeout_seconds = optional(number, 60)
  })
  default = {}
}

variable "stepup_limits" {
  description = "Step-up sizing. It calls Didit's API (I/O-bound, 10 s per attempt) after a Firestore claim: medium concurrency, few instances to stay within Didit's rate limits. Its timeout bounds the push subscriptions' ack deadline (at most 600 s)."
  type = object({
    max_instances   = optional(number, 5)
    min_instances   = optional(number, 0)
    concurrency     = optional(number, 16)
    cpu             = optional(string, "1")
    memory          = optional(string, "256Mi")
    timeout_seconds = optional(number, 60)
  })
  default = {}
}

variable "event_functions_ingress" {
  description = "Ingress of the scorer and step-up functions. Pub/Sub push from the same project counts as internal traffic for Cloud Run, so ALLOW_INTERNAL_ONLY keeps them off the internet on top of IAM."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.event_functions_ingress)
    error_message = "event_functions_ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

# ---- delivery ----

variable "stepup_max_delivery_attempts" {
  description = "Deliveries of a step_up decision before it is dead-lettered. Higher than max_delivery_attempts: a Didit rate limit can ask to wait an hour (the sandbox quota), and with the maximum backoff of 600 s about 12 attempts cover it; the step stays pending with its retry_at meanwhile."
  type        = number
  default     = 15

  validation {
    condition     = var.stepup_max_delivery_attempts >= 5 && var.stepup_max_delivery_attempts <= 100
    error_message = "stepup_max_delivery_attempts must be between 5 and 100."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of a message to a function before it goes to the dead-letter topic (Pub/Sub allows 5-100)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "retry_minimum_backoff" {
  description = "Push subscriptions' exponential retry: first delay (Pub/Sub allows 0-600s)."
  type        = string
  default     = "10s"
}

variable "retry_maximum_backoff" {
  description = "Push subscriptions' exponential retry: largest delay (Pub/Sub allows up to 600s)."
  type        = string
  default     = "600s"
}

variable "dead_letter_retention" {
  description = "How long dead letters stay in the DLQ pull subscriptions, acknowledged or not, for inspection and replay (at most 7 days)."
  type        = string
  default     = "604800s"
}

# ---- monitoring ----

variable "alert_notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) the alert policies notify. Empty: alerts show in the console only."
  type        = list(string)
  default     = []
}

variable "oldest_unacked_age_alert_seconds" {
  description = "Alert when a push subscription's oldest unacknowledged message is older than this (a function failing or too slow)."
  type        = number
  default     = 900
}
