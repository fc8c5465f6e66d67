package operator

import "github.com/riskwire/didit-risk/internal/profile"

// decidedBy is who set an assessment's verdict; assessments written before decided_by was
// stored were the policy's.
func decidedBy(profile.Assessment) string { return string(profile.DecidedByPolicy) }
