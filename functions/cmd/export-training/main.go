// Command export-training writes the labelled feature file the model is trained on, from the
// assessments stored in Firestore (the emulator when FIRESTORE_EMULATOR_HOST is set, else a real
// project with application default credentials):
//
//	go run ./functions/cmd/export-training -project my-project -out training.csv
//
// It reads every risk_profiles/{id}/assessments/{id} (a collection-group query) and the
// profiles' step_ups, labels each assessment from the outcomes the system recorded
// (model.Label), and writes only the feature columns, the label and its rule, and a group column
// keyed by a random key drawn for this export and never stored: no personal data, no ids.
// Assessments without a final outcome are counted, not written.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/riskwire/didit-risk/internal/model"
	"github.com/riskwire/didit-risk/internal/profile"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "export-training:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("export-training", flag.ContinueOnError)
	fs.SetOutput(stderr)
	project := fs.String("project", getenv("GOOGLE_CLOUD_PROJECT"), "Google Cloud project (default $GOOGLE_CLOUD_PROJECT)")
	database := fs.String("database", firestore.DefaultDatabaseID, "Firestore database")
	out := fs.String("out", "", "CSV file to write (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *project == "" || *out == "" {
		return errors.New("-project (or GOOGLE_CLOUD_PROJECT) and -out are required")
	}
	client, err := firestore.NewClientWithDatabase(ctx, *project, *database)
	if err != nil {
		return fmt.Errorf("firestore client: %w", err)
	}
	defer client.Close()

	// Written next to the target and renamed at the end: a failed export leaves no partial file.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".export-training-*.csv")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	bw := bufio.NewWriter(tmp)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	tw, err := model.NewTrainingWriter(bw, key)
	if err != nil {
		return err
	}
	if err := export(ctx, client, tw); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	report(stderr, *out, tw)
	return nil
}

// export writes every stored assessment through tw.
func export(ctx context.Context, client *firestore.Client, tw *model.TrainingWriter) error {
	outcomes := map[string]map[string][]string{} // profile id → assessment id → step-up outcomes
	it := client.Collection(profile.Profiles).Select("step_ups").Documents(ctx)
	defer it.Stop()
	for {
		doc, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return fmt.Errorf("read profiles: %w", err)
		}
		outcomes[doc.Ref.ID] = model.StepUpOutcomes(doc.Data())
	}

	ait := client.CollectionGroup(profile.Assessments).Documents(ctx)
	defer ait.Stop()
	for {
		doc, err := ait.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read assessments: %w", err)
		}
		parent := doc.Ref.Parent.Parent
		if parent == nil || parent.Parent == nil || parent.Parent.ID != profile.Profiles || parent.Parent.Parent != nil {
			continue // an "assessments" collection that is not a risk profile's
		}
		data := doc.Data()
		id, _ := data["id"].(string) // step_ups name the assessment by this id, not the escaped document id
		if id == "" {
			id = doc.Ref.ID
		}
		if _, err := tw.Write(parent.ID, data, outcomes[parent.ID][id]); err != nil {
			return fmt.Errorf("assessment %s: %w", doc.Ref.Path, err)
		}
	}
}

func report(w io.Writer, out string, tw *model.TrainingWriter) {
	counts := tw.Counts()
	rules := make([]string, 0, len(counts))
	total := 0
	for r, n := range counts {
		rules = append(rules, r)
		total += n
	}
	sort.Strings(rules)
	fmt.Fprintf(w, "%d labelled rows of %d assessments written to %s (feature version %d)\n", tw.Rows(), total, out, model.FeatureVersion)
	for _, r := range rules {
		fmt.Fprintf(w, "  %-20s %d\n", r, counts[r])
	}
}
