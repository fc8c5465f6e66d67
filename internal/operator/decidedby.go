package operator

import "github.com/riskwire/didit-risk/internal/profile"

// decidedBy is who set an assessment's verdict; assessments written before decided_by was
// stored were the policy's.
func decidedBy(a profile.Assessment) string { return string(orPolicy(a.DecidedBy)) }

func orPolicy(d profile.DecidedBy) profile.DecidedBy {
	if d == "" {
		return profile.DecidedByPolicy
	}
	return d
}
