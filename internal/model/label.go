package model

import (
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// Label rules: the outcome an assessment is labelled with, named for the CSV's rule column.
const (
	RuleBlocked         = "blocked"            // 1: the verdict was block
	RuleStepUpDeclined  = "step_up_declined"   // 1: a step-up asked for by this assessment, or this step-up session, was declined
	RuleDiditDeclined   = "didit_declined"     // 1: Didit's final status of the session is Declined
	RuleAwaitingReview  = "awaiting_review"    // none: sent to review; reviewers' decisions are not recorded yet
	RuleStepUpUnsettled = "step_up_unresolved" // none: a step-up was asked for and none has an outcome yet
	RuleStepUpApproved  = "step_up_approved"   // 0: every step-up asked for was approved
	RuleDiditApproved   = "didit_approved"     // 0: Didit approved the session and the policy let it through
	RuleNoOutcome       = "no_final_outcome"   // none: In Review, Abandoned, ... at Didit
)

// Label says what a stored assessment's outcome was: 1 bad, 0 good, ok false when the system
// has recorded no final outcome for it yet (such rows are not training data). rule names the
// rule that decided, first match wins:
//
//	rule                 label  when
//	blocked              1      action == "block"
//	step_up_declined     1      a step-up this assessment asked for came back declined, or this is a step-up
//	                            session's assessment (step_up_kind set) and session_status == "Declined"
//	didit_declined       1      signals.didit_status == "Declined"
//	awaiting_review      —      action == "review"
//	step_up_unresolved   —      action == "step_up" and no step-up outcome is known
//	step_up_approved     0      action == "step_up" and every known step-up outcome is approved
//	didit_approved       0      signals.didit_status == "Approved"
//	no_final_outcome     —      anything else
//
// stepUpOutcomes are the outcomes ("approved", "declined", "review") of the step-ups recorded on
// the user's profile whose assessment_id is this assessment's id.
//
// A block is the policy's own verdict: a model trained on it partly learns the policy back.
// It is a label because blocks are what operators confirm; review outcomes, once recorded, are
// the better label.
func Label(assessment map[string]any, stepUpOutcomes []string) (label int, rule string, ok bool) {
	action, _ := assessment["action"].(string)
	kind, _ := assessment["step_up_kind"].(string)
	session, _ := assessment["session_status"].(string)
	signals, _ := assessment["signals"].(map[string]any)
	status, _ := signals["didit_status"].(string)

	declined, approved, pending := false, 0, 0
	for _, o := range stepUpOutcomes {
		switch o {
		case string(policy.OutcomeDeclined):
			declined = true
		case string(policy.OutcomeApproved):
			approved++
		default:
			pending++
		}
	}
	switch {
	case action == string(policy.Block):
		return 1, RuleBlocked, true
	case declined || (kind != "" && session == string(didit.StatusDeclined)):
		return 1, RuleStepUpDeclined, true
	case status == string(didit.StatusDeclined):
		return 1, RuleDiditDeclined, true
	case action == string(policy.Review):
		return 0, RuleAwaitingReview, false
	case action == string(policy.StepUp) && (approved == 0 || pending > 0):
		return 0, RuleStepUpUnsettled, false
	case action == string(policy.StepUp):
		return 0, RuleStepUpApproved, true
	case status == string(didit.StatusApproved):
		return 0, RuleDiditApproved, true
	}
	return 0, RuleNoOutcome, false
}
