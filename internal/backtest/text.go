package backtest

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// SummaryOptions shape the terminal summary.
type SummaryOptions struct {
	Changes  int    // changes listed (the rest are counted); 0: 20
	Picture  string // where the histogram was written, mentioned when set
	AllRules bool   // list every rule that fired, not only those whose count changed
}

// WriteSummary prints the short terminal summary of r.
func WriteSummary(w io.Writer, r Report, o SummaryOptions) error {
	if o.Changes == 0 {
		o.Changes = 20
	}
	var b strings.Builder
	scope := "all assessments"
	if r.LatestPerUser {
		scope = "latest assessment per user"
	}
	other := "candidate"
	if r.Mode == "shadow" {
		other = "shadow"
	}
	fmt.Fprintf(&b, "%s: %d compared (%s, %s), %d read, %d skipped\n", r.Mode, r.Assessments, scope, windowText(r.Window), r.Read, r.Skipped)
	fmt.Fprintf(&b, "live (stored): %s   %s: %s\n", versionsText(r.LiveVersions), other, r.Candidate)
	if r.Assessments == 0 {
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "agreement: %d (%.1f%%) same level and action\n", r.Agree, 100*r.Share(r.Agree))
	fmt.Fprintf(&b, "action changes: %d (%.1f%%): %d stricter (%.1f%%), %d looser (%.1f%%)\n",
		r.ChangesTotal, 100*r.Share(r.ChangesTotal), r.Stricter, 100*r.Share(r.Stricter), r.Looser, 100*r.Share(r.Looser))
	fmt.Fprintf(&b, "mean score: live %.1f, %s %.1f\n", float64(r.LiveScoreSum)/float64(r.Assessments), other, float64(r.CandScoreSum)/float64(r.Assessments))
	if r.Mismatches > 0 {
		fmt.Fprintf(&b, "WARNING: %d live-policy replays differ from the stored verdict (policy or model changed since): %s\n",
			r.Mismatches, strings.Join(r.MismatchSamples[:min(3, len(r.MismatchSamples))], "; "))
	}
	b.WriteString("\n")
	matrix(&b, "action", other, actionLabels(), r.Actions)
	b.WriteString("\n")
	matrix(&b, "level", other, levelLabels(), r.Levels)

	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "rule\tlive\t%s\tchange\t\n", other)
	same := 0
	for _, rc := range r.Rules {
		if rc.Live == rc.Candidate && !o.AllRules {
			same++
			continue
		}
		name := rc.Rule
		if rc.Shadow {
			name += " (shadow)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%+d\t\n", name, rc.Live, rc.Candidate, rc.Candidate-rc.Live)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if same > 0 {
		fmt.Fprintf(&b, "(%d more rules fired as often on both sides)\n", same)
	}
	if len(r.Disagreement) > 0 {
		ids := make([]string, 0, len(r.Disagreement))
		for id := range r.Disagreement {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, c string) int {
			if d := r.Disagreement[c] - r.Disagreement[a]; d != 0 {
				return d
			}
			return strings.Compare(a, c)
		})
		b.WriteString("\ndisagreements by rule:")
		for _, id := range ids[:min(8, len(ids))] {
			fmt.Fprintf(&b, " %s(%d)", id, r.Disagreement[id])
		}
		b.WriteString("\n")
	}
	if r.ChangesTotal > 0 {
		n := min(o.Changes, len(r.Changes))
		fmt.Fprintf(&b, "\nusers whose action changes (%d of %d):\n", n, r.ChangesTotal)
		for _, c := range r.Changes[:n] {
			fmt.Fprintf(&b, "  %s  %s  %s -> %s  %s\n", c.ProfileID, c.AssessmentID, c.Live, c.Candidate, changeRules(c))
		}
	}
	if o.Picture != "" {
		fmt.Fprintf(&b, "\nscore histogram: %s\n", o.Picture)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func changeRules(c Change) string {
	var parts []string
	for _, id := range c.Added {
		parts = append(parts, "+"+id)
	}
	for _, id := range c.Removed {
		parts = append(parts, "-"+id)
	}
	for _, id := range c.Redefined {
		parts = append(parts, "~"+id)
	}
	if len(parts) == 0 {
		return "(same rules: thresholds or actions)"
	}
	return strings.Join(parts, " ")
}

func matrix(b *strings.Builder, what, other string, labels []string, m [5][5]int) {
	// Rows and columns that are all zero outside the vocabulary are left out.
	n := 4
	for i := range 5 {
		if m[4][i] != 0 || m[i][4] != 0 {
			n = 5
		}
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s: live \\ %s\t", what, other)
	for j := range n {
		fmt.Fprintf(tw, "%s\t", labels[j])
	}
	fmt.Fprint(tw, "\n")
	for i := range n {
		fmt.Fprintf(tw, "%s\t", labels[i])
		for j := range n {
			fmt.Fprintf(tw, "%d\t", m[i][j])
		}
		fmt.Fprint(tw, "\n")
	}
	_ = tw.Flush()
}

func actionLabels() []string {
	out := make([]string, 0, 5)
	for _, a := range actionNames {
		out = append(out, string(a))
	}
	return append(out, "none")
}

func levelLabels() []string {
	out := make([]string, 0, 5)
	for _, l := range levelNames {
		out = append(out, string(l))
	}
	return append(out, "none")
}

func windowText(w Window) string {
	if w.Open() {
		return "no time window"
	}
	f := func(t time.Time, open string) string {
		if t.IsZero() {
			return open
		}
		return t.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s in [%s, %s)", w.Field, f(w.Since, "-inf"), f(w.Until, "+inf"))
}

func versionsText(vs map[string]int) string {
	keys := make([]string, 0, len(vs))
	for k := range vs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s (%d)", k, vs[k])
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
