// Command policy-diff lists what changes from one policy file to another, in the terms that move
// a verdict: rules added, removed and changed (condition, points, min_level, action, steps,
// shadow), thresholds and the action of each level. Both files are loaded and compiled as the
// scorer loads them, so an invalid candidate fails here too.
//
//	go run ./functions/cmd/policy-diff OLD.yaml NEW.yaml   (- for the embedded default policy)
//
// Exit status as diff(1): 0 no difference, 1 differences, 2 trouble (usage, invalid file). It is
// a command of its own rather than a policy-check flag because it has diff's exit contract and
// two ordered operands, where policy-check validates any number of files.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/riskwire/didit-risk/internal/policy"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy-diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: policy-diff OLD.yaml NEW.yaml   (- names the embedded default policy)")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	var pols [2]*policy.Policy
	for i, path := range fs.Args() {
		p, err := load(path)
		if err != nil {
			fmt.Fprintf(stderr, "policy-diff: %s: %v\n", path, err)
			return 2
		}
		pols[i] = p
	}
	d := policy.Compare(pols[0], pols[1])
	Write(stdout, d)
	if d.Empty() {
		return 0
	}
	return 1
}

func load(path string) (*policy.Policy, error) {
	if path == "-" {
		return policy.Parse(policy.DefaultSource())
	}
	return policy.Load(path)
}

// Write prints d: a header, then one line per difference (+ added, - removed, ~ changed).
func Write(w io.Writer, d policy.Diff) {
	fmt.Fprintf(w, "policy %s -> %s\n", d.VersionA, d.VersionB)
	for _, c := range d.Thresholds {
		fmt.Fprintf(w, "~ threshold %s: %s -> %s\n", c.Field, c.Old, c.New)
	}
	for _, c := range d.Actions {
		fmt.Fprintf(w, "~ action for %s: %s -> %s\n", c.Field, c.Old, c.New)
	}
	for _, id := range d.Added {
		fmt.Fprintf(w, "+ rule %s\n", id)
	}
	for _, id := range d.Removed {
		fmt.Fprintf(w, "- rule %s\n", id)
	}
	for _, rc := range d.Changed {
		fmt.Fprintf(w, "~ rule %s\n", rc.ID)
		for _, c := range rc.Changes {
			fmt.Fprintf(w, "    %-9s %q -> %q\n", c.Field, c.Old, c.New)
		}
	}
	if d.Empty() {
		fmt.Fprintln(w, "no difference in rules, thresholds or actions")
		return
	}
	fmt.Fprintf(w, "%d added, %d removed, %d changed rules; %d thresholds, %d actions changed\n",
		len(d.Added), len(d.Removed), len(d.Changed), len(d.Thresholds), len(d.Actions))
}
