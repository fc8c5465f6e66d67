package stepup

import (
	"context"
	"sync"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
)

// MemClaims keeps claims in memory with ClaimStore's rules (the same decide/apply functions),
// for the unit tests of package stepup_test.
type MemClaims struct {
	mu       sync.Mutex
	m        map[string]Claim
	Released []string // ids released, in order
}

// NewMemClaims returns empty in-memory claims.
func NewMemClaims() *MemClaims { return &MemClaims{m: map[string]Claim{}} }

// Acquire implements Claims.
func (c *MemClaims) Acquire(_ context.Context, id string, want Claim) (Claim, Grant, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.m[id]
	g, write := decideAcquire(&cur, ok, want, want.UpdatedAt)
	if write {
		c.m[id] = cur
	}
	cur.ID = id
	return cur, g, nil
}

// Settle implements Claims.
func (c *MemClaims) Settle(_ context.Context, id, _ string, result Claim) (Claim, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.m[id]
	if !ok {
		return Claim{}, false, failure.Errorf(failure.Transient, "settle claim %s: %w", id, errNoClaim)
	}
	settled := applySettle(&cur, result)
	c.m[id] = cur
	cur.ID = id
	return cur, settled, nil
}

// Release implements Claims.
func (c *MemClaims) Release(_ context.Context, id, owner string, now time.Time, d Deferral) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.m[id]; ok && applyRelease(&cur, owner, now, d) {
		c.m[id] = cur
		c.Released = append(c.Released, id)
	}
	return nil
}

// Created implements Claims.
func (c *MemClaims) Created(_ context.Context, profileID string) ([]Claim, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Claim
	for id, cl := range c.m {
		if cl.ProfileID == profileID && cl.State == policy.StepCreated {
			cl.ID = id
			out = append(out, cl)
		}
	}
	return out, nil
}

// Complete implements Claims.
func (c *MemClaims) Complete(_ context.Context, id, diditSessionID string, diditStatus didit.Status, now time.Time) (Claim, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.m[id]
	done := ok && applyComplete(&cur, diditSessionID, diditStatus, now)
	if done {
		c.m[id] = cur
	}
	cur.ID = id
	return cur, done, nil
}

// Get implements Claims.
func (c *MemClaims) Get(_ context.Context, id string) (Claim, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.m[id]
	cl.ID = id
	return cl, ok, nil
}
