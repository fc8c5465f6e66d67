package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Change is one setting that differs between two policies: a threshold, a level's action or a
// field of a rule present in both.
type Change struct {
	Field    string // "when", "points", "min_level", "action", "steps", "shadow"; "medium" or "low" for thresholds and actions
	Old, New string
}

// RuleChange is a rule present in both policies whose definition differs.
type RuleChange struct {
	ID      string
	Changes []Change
}

// Diff is what changes from policy A to policy B, in the terms that move a verdict.
type Diff struct {
	VersionA, VersionB string
	Thresholds         []Change // by level
	Actions            []Change // by level
	Added, Removed     []string // rule ids, in their policy's order
	Changed            []RuleChange
}

// Empty reports whether the policies give the same verdicts on every input: no threshold,
// action or rule differs. (Versions and descriptions do not count.)
func (d Diff) Empty() bool {
	return len(d.Thresholds) == 0 && len(d.Actions) == 0 && len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// ChangedRules returns the ids of the rules added, removed or changed.
func (d Diff) ChangedRules() []string {
	out := slices.Concat(d.Added, d.Removed)
	for _, c := range d.Changed {
		out = append(out, c.ID)
	}
	return out
}

// Compare lists the differences from a to b: rules by id (added, removed, changed in condition,
// points, min_level, action, steps or shadow), thresholds and the actions of each level.
func Compare(a, b *Policy) Diff {
	d := Diff{VersionA: a.Version, VersionB: b.Version}
	for _, f := range []struct {
		name   string
		ta, tb int
	}{
		{string(Medium), a.Thresholds.Medium, b.Thresholds.Medium},
		{string(High), a.Thresholds.High, b.Thresholds.High},
		{string(Critical), a.Thresholds.Critical, b.Thresholds.Critical},
	} {
		if f.ta != f.tb {
			d.Thresholds = append(d.Thresholds, Change{Field: f.name, Old: strconv.Itoa(f.ta), New: strconv.Itoa(f.tb)})
		}
	}
	for _, l := range levels {
		if a.Actions[l] != b.Actions[l] {
			d.Actions = append(d.Actions, Change{Field: string(l), Old: string(a.Actions[l]), New: string(b.Actions[l])})
		}
	}
	for _, r := range b.Rules {
		if a.Rule(r.ID) == nil {
			d.Added = append(d.Added, r.ID)
		}
	}
	for _, ra := range a.Rules {
		rb := b.Rule(ra.ID)
		if rb == nil {
			d.Removed = append(d.Removed, ra.ID)
			continue
		}
		if cs := ruleChanges(ra, rb); len(cs) > 0 {
			d.Changed = append(d.Changed, RuleChange{ID: ra.ID, Changes: cs})
		}
	}
	return d
}

func ruleChanges(a, b *Rule) []Change {
	var out []Change
	add := func(field, x, y string) {
		if x != y {
			out = append(out, Change{Field: field, Old: x, New: y})
		}
	}
	// Whitespace in a folded YAML condition is not a change of meaning.
	add("when", strings.Join(strings.Fields(a.When), " "), strings.Join(strings.Fields(b.When), " "))
	add("points", strconv.Itoa(a.Points), strconv.Itoa(b.Points))
	add("min_level", string(a.MinLevel), string(b.MinLevel))
	add("action", string(a.Action), string(b.Action))
	add("steps", fmt.Sprint(a.Steps), fmt.Sprint(b.Steps))
	add("shadow", strconv.FormatBool(a.Shadow), strconv.FormatBool(b.Shadow))
	return out
}
