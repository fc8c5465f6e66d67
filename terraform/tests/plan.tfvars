# Placeholder inputs for offline checks (make tf-check): plan and terraform test.
project_id     = "didit-risk-check"
region         = "europe-west1"
source_archive = "tests/fixtures/placeholder-source.zip"

didit_callback_url = "https://app.example.com/verification/done"
step_up_workflows = {
  nfc       = "wf-nfc-0001"
  phone     = "wf-phone-0001"
  biometric = "wf-biometric-0001"
  poa       = "wf-poa-0001"
}
alert_notification_channels = ["projects/didit-risk-check/notificationChannels/1234567890"]
