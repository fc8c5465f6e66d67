// Command gendata writes the training CSV of the demo model from synthetic assessments
// (internal/model/synth), the same way export-training writes one from Firestore:
//
//	go run ./internal/model/train/gendata -n 4000 -seed 1 -out internal/model/train/data/synthetic.csv
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/riskwire/didit-risk/internal/model"
	"github.com/riskwire/didit-risk/internal/model/synth"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gendata", flag.ContinueOnError)
	n := fs.Int("n", 4000, "assessments to generate")
	seed := fs.Uint64("seed", 1, "generator seed")
	out := fs.String("out", "", "CSV file to write (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	// A fixed key: the synthetic ids are no one's, and a fixed key keeps the file reproducible.
	tw, err := model.NewTrainingWriter(bw, []byte(fmt.Sprintf("synthetic-%d", *seed)))
	if err != nil {
		return err
	}
	for _, p := range synth.Generate(*seed, *n) {
		outcomes := model.StepUpOutcomes(p.Doc)
		for _, a := range p.Assessments {
			if _, err := tw.Write(p.ID, a, outcomes[a["id"].(string)]); err != nil {
				return fmt.Errorf("profile %s assessment %v: %w", p.ID, a["id"], err)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	counts := tw.Counts()
	rules := make([]string, 0, len(counts))
	for r := range counts {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	fmt.Fprintf(stderr, "%d rows written to %s\n", tw.Rows(), *out)
	for _, r := range rules {
		fmt.Fprintf(stderr, "  %-20s %d\n", r, counts[r])
	}
	return f.Close()
}
