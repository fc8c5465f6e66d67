// Command cost turns measured per-webhook figures into dollars per million webhooks on Google
// Cloud list prices (the dated table in prices.go), and prints a markdown table with Didit's
// price per verification next to it:
//
//	go run ./emulator/cmd/cost                      # the README's inputs
//	go run ./emulator/cmd/cost -scorer-cpu 3ms -didit-price 0.30
//
// Every input is a flag whose default is the README's measured figure or, where it says
// "assumption", a stated guess to replace with a production measurement.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	in := DefaultInputs()
	p := ListPrices()
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&in.Receiver.CPU, "receiver-cpu", in.Receiver.CPU, "receiver CPU per webhook (BenchmarkReceiverPubSubEmulator)")
	fs.DurationVar(&in.Scorer.CPU, "scorer-cpu", in.Scorer.CPU, "scorer CPU per webhook (BenchmarkScorer)")
	fs.DurationVar(&in.StepUp.CPU, "stepup-cpu", in.StepUp.CPU, "step-up CPU per webhook it handles (assumption)")
	fs.Float64Var(&in.Receiver.MemoryGiB, "receiver-gib", in.Receiver.MemoryGiB, "receiver memory, GiB (terraform receiver_limits)")
	fs.Float64Var(&in.Scorer.MemoryGiB, "scorer-gib", in.Scorer.MemoryGiB, "scorer memory, GiB (terraform scorer_limits)")
	fs.Float64Var(&in.StepUp.MemoryGiB, "stepup-gib", in.StepUp.MemoryGiB, "step-up memory, GiB (terraform stepup_limits)")
	fs.Float64Var(&in.StepUp.Share, "stepup-share", in.StepUp.Share, "step-up invocations per webhook (assumption)")
	fs.Float64Var(&in.Utilisation, "utilisation", in.Utilisation, "share of billed instance time spent on CPU work (1: the floor, instances always busy)")
	fs.IntVar(&in.WebhookBytes, "webhook-bytes", in.WebhookBytes, "Pub/Sub message size of a webhook, bytes")
	fs.IntVar(&in.WebhookDeliveries, "webhook-deliveries", in.WebhookDeliveries, "subscriptions on the webhooks topic (filtered-out messages are billed too)")
	fs.IntVar(&in.DecisionBytes, "decision-bytes", in.DecisionBytes, "Pub/Sub message size of a decision, bytes")
	fs.IntVar(&in.DecisionDeliveries, "decision-deliveries", in.DecisionDeliveries, "subscriptions on the decisions topic")
	fs.Float64Var(&in.Reads, "fs-reads", in.Reads, "Firestore document reads per webhook")
	fs.Float64Var(&in.Writes, "fs-writes", in.Writes, "Firestore document writes per webhook")
	fs.Float64Var(&in.Deletes, "fs-deletes", in.Deletes, "Firestore deletes per webhook (TTL expiry)")
	fs.Float64Var(&in.StoredBytes, "stored-bytes", in.StoredBytes, "Firestore bytes retained per webhook, indexes included")
	fs.Float64Var(&in.RetentionMonths, "retention-months", in.RetentionMonths, "how long the retained bytes are kept")
	fs.Float64Var(&in.StartsPerMillion, "starts-per-million", in.StartsPerMillion, "instance starts per million webhooks, all functions (assumption)")
	fs.Float64Var(&in.SecretsPerStart, "secrets-per-start", in.SecretsPerStart, "secret versions read at an instance start")
	fs.Float64Var(&in.WebhooksPerVerification, "webhooks-per-verification", in.WebhooksPerVerification, "webhooks Didit sends per verification (assumption)")
	fs.Float64Var(&in.DiditPrice, "didit-price", in.DiditPrice, "Didit's price per verification, USD (0: not known here)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, Render(in, p, Compute(in, p)))
	return err
}

// Fn is one function's work per webhook.
type Fn struct {
	Name      string
	CPU       time.Duration // CPU per invocation
	MemoryGiB float64
	Share     float64 // invocations per webhook
}

// Inputs are the per-webhook figures the cost is computed from.
type Inputs struct {
	Receiver, Scorer, StepUp Fn
	Utilisation              float64
	WebhookBytes             int
	WebhookDeliveries        int
	DecisionBytes            int
	DecisionDeliveries       int
	Reads, Writes, Deletes   float64
	StoredBytes              float64
	RetentionMonths          float64
	StartsPerMillion         float64
	SecretsPerStart          float64
	WebhooksPerVerification  float64
	DiditPrice               float64
}

// DefaultInputs are the README's figures; see the flags for where each comes from.
func DefaultInputs() Inputs {
	return Inputs{
		// CPU: README "Load" (emulator/loadgen benchmarks); memory: terraform/variables.tf.
		Receiver: Fn{Name: "receiver", CPU: 230 * time.Microsecond, MemoryGiB: 0.25, Share: 1},
		Scorer:   Fn{Name: "scorer", CPU: 3500 * time.Microsecond, MemoryGiB: 0.5, Share: 1},
		StepUp:   Fn{Name: "step-up", CPU: 2 * time.Millisecond, MemoryGiB: 0.25, Share: 0.1},
		// The floor: billed instance time equals CPU time. A receiver waiting on its publish is
		// billed while it waits, so real utilisation is lower; see -utilisation.
		Utilisation: 1,
		// full_v3.json, the largest realistic webhook (16.5 KB), plus attributes; a decision
		// is a few hundred bytes, billed as 1,000.
		WebhookBytes: 17_000, WebhookDeliveries: 2, // scorer-push and the step-up function's filtered subscription
		DecisionBytes: 600, DecisionDeliveries: 1, // stepup-push (blocklist-push when enabled: 2)
		// internal/profile/apply.go: one transaction reads the marker, the profile and the
		// assessment, writes the marker, the assessment and the profile; the marker and (after
		// the retention) the assessment expire by TTL. Step-up adds a claim read and write.
		Reads: 3 + 0.1, Writes: 3 + 0.1, Deletes: 2 + 0.1,
		// Measured (TestBytesPerWebhook, README "Firestore work per webhook"): what a webhook
		// leaves for the retention is its assessment, ≈ 3.3 KB (the marker expires in 8 days and
		// the compact profile is bounded per user, ≈ 11 KB at 50 sessions); Firestore's index
		// entries roughly double it. Kept for profile.DefaultAssessmentRetention (400 days).
		StoredBytes: 2 * 3_300, RetentionMonths: 400 / (365.25 / 12),
		StartsPerMillion: 100, SecretsPerStart: 1.5,
		WebhooksPerVerification: 3, // not started, in progress, a decision
	}
}

// Validate refuses inputs that would give a meaningless table.
func (in Inputs) Validate() error {
	switch {
	case in.Utilisation <= 0 || in.Utilisation > 1:
		return errors.New("-utilisation must be in (0, 1]")
	case in.WebhooksPerVerification <= 0:
		return errors.New("-webhooks-per-verification must be positive")
	}
	for _, f := range []float64{in.Receiver.MemoryGiB, in.Scorer.MemoryGiB, in.StepUp.MemoryGiB, in.StepUp.Share,
		in.Reads, in.Writes, in.Deletes, in.StoredBytes, in.RetentionMonths, in.StartsPerMillion, in.SecretsPerStart, in.DiditPrice} {
		if f < 0 {
			return errors.New("no input may be negative")
		}
	}
	if in.Receiver.CPU < 0 || in.Scorer.CPU < 0 || in.StepUp.CPU < 0 || in.WebhookBytes < 0 || in.DecisionBytes < 0 ||
		in.WebhookDeliveries < 0 || in.DecisionDeliveries < 0 {
		return errors.New("no input may be negative")
	}
	return nil
}

// Line is one row of the cost table: a quantity per webhook and its price per million webhooks.
type Line struct {
	Item     string
	Quantity string
	USD      float64 // per million webhooks
}

const million = 1e6

// Compute prices a million webhooks, item by item.
func Compute(in Inputs, p Prices) []Line {
	var out []Line
	for _, f := range []Fn{in.Receiver, in.Scorer, in.StepUp} {
		// Billed instance-seconds per webhook: CPU time over utilisation, on 1 vCPU.
		sec := f.CPU.Seconds() * f.Share / in.Utilisation
		out = append(out,
			Line{"Cloud Run " + f.Name + ": vCPU", fmt.Sprintf("%.3g vCPU-ms", sec*1e3), sec * million * p.RunVCPUSecond},
			Line{"Cloud Run " + f.Name + ": memory", fmt.Sprintf("%.3g GiB-ms", sec*f.MemoryGiB*1e3), sec * f.MemoryGiB * million * p.RunGiBSecond},
			Line{"Cloud Run " + f.Name + ": requests", fmt.Sprintf("%.3g", f.Share), f.Share * million * p.RunRequest},
		)
	}
	billed := func(size int) int { return max(size, p.PubSubMinBytes) }
	psBytes := float64(billed(in.WebhookBytes)*(1+in.WebhookDeliveries) + billed(in.DecisionBytes)*(1+in.DecisionDeliveries))
	const tib = 1 << 40
	const gib = 1 << 30
	out = append(out,
		Line{"Pub/Sub throughput", fmt.Sprintf("%.3g KB (1 KB minimum per publish and delivery)", psBytes/1000), psBytes * million / tib * p.PubSubTiB},
		Line{"Firestore reads", fmt.Sprintf("%.3g", in.Reads), in.Reads * million * p.FSRead},
		Line{"Firestore writes", fmt.Sprintf("%.3g", in.Writes), in.Writes * million * p.FSWrite},
		Line{"Firestore deletes (TTL)", fmt.Sprintf("%.3g", in.Deletes), in.Deletes * million * p.FSDelete},
		Line{fmt.Sprintf("Firestore storage, kept %s months", strconv.FormatFloat(math.Round(in.RetentionMonths*10)/10, 'f', -1, 64)), fmt.Sprintf("%.1f KB", in.StoredBytes/1000),
			in.StoredBytes * million / gib * in.RetentionMonths * p.FSGiBMonth},
		Line{"Secret Manager accesses (per instance start)", fmt.Sprintf("%.3g", in.StartsPerMillion*in.SecretsPerStart/million),
			in.StartsPerMillion * in.SecretsPerStart * p.SecretAccess},
	)
	return out
}

// Total sums the lines.
func Total(lines []Line) float64 {
	t := 0.0
	for _, l := range lines {
		t += l.USD
	}
	return t
}

// Render is the markdown the README quotes.
func Render(in Inputs, p Prices, lines []Line) string {
	out := fmt.Sprintf("Google Cloud list prices: %s, %s; free tiers left out. Utilisation %g (1 = billed time is CPU time, the floor).\n\n", p.AsOf, p.Region, in.Utilisation)
	out += "| item | per webhook | $ per million webhooks |\n| --- | --- | --- |\n"
	for _, l := range lines {
		out += fmt.Sprintf("| %s | %s | %s |\n", l.Item, l.Quantity, usd(l.USD))
	}
	total := Total(lines)
	perVerification := total / million * in.WebhooksPerVerification
	out += fmt.Sprintf("| **total** | | **%s** |\n", usd(total))
	out += fmt.Sprintf("| per million verifications (%g webhooks each) | | %s |\n", in.WebhooksPerVerification, usd(perVerification*million))
	if in.DiditPrice > 0 {
		out += fmt.Sprintf("\nDidit at $%.2f per verification (-didit-price): this system adds $%.5f per verification, %.2f %% of Didit's price.\n",
			in.DiditPrice, perVerification, 100*perVerification/in.DiditPrice)
	} else {
		out += fmt.Sprintf("\nThis system: $%.5f per verification. Didit's price per verification is not stated in the API notes used here: pass Didit's published price with -didit-price to see the share.\n", perVerification)
	}
	out += "\nFree tiers, a month: "
	for i, f := range p.FreeTiers {
		if i > 0 {
			out += "; "
		}
		out += f
	}
	out += ".\nSources: "
	for i, s := range p.Sources {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out + "\n"
}

// usd renders dollars with enough digits for small items.
func usd(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v < 0.01:
		return fmt.Sprintf("$%.4f", v)
	default:
		return fmt.Sprintf("$%.2f", v)
	}
}
