package main

import (
	"context"
	"errors"
	"time"

	"github.com/riskwire/didit-risk/internal/operator"
	"github.com/riskwire/didit-risk/internal/profile"
)

// store wires the profile store into the operator. Until the store's override API (branch
// verdict: SetOverride, ClearOverride, AuditTrail, OpenReviews) is merged, those four answer
// errVerdictAPI.
func store(s *profile.Store) operator.Store { return pending{s} }

var errVerdictAPI = errors.New("the profile store's override API is not merged yet (branch verdict)")

type pending struct{ *profile.Store }

func (pending) SetOverride(context.Context, string, profile.Override, profile.Evaluator, time.Time) (profile.Profile, bool, error) {
	return profile.Profile{}, false, errVerdictAPI
}

func (pending) ClearOverride(context.Context, string, string, string, profile.Evaluator, time.Time) (profile.Profile, bool, error) {
	return profile.Profile{}, false, errVerdictAPI
}

func (pending) AuditTrail(context.Context, string) ([]profile.AuditEntry, error) {
	return nil, nil // no store writes an audit trail yet
}

func (pending) OpenReviews(context.Context, int) ([]profile.Profile, error) {
	return nil, errVerdictAPI
}
