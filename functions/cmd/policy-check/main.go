// Command policy-check validates risk policy files offline: YAML shape, levels, actions,
// step-up kinds and every rule's CEL expression, exactly as the scorer loads them.
//
//	go run ./functions/cmd/policy-check FILE...    check files (exit 1 if one is invalid)
//	go run ./functions/cmd/policy-check -default   check the embedded default policy
//	go run ./functions/cmd/policy-check -vars      list the variables rules may read
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

// run is main without the process: it returns the exit code (0 ok, 1 invalid, 2 usage).
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	useDefault := fs.Bool("default", false, "check the embedded default policy")
	listVars := fs.Bool("vars", false, "list the variables rules may read, with their CEL types")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: policy-check [-default] [-vars] [FILE...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *listVars {
		for _, v := range policy.Vars() {
			fmt.Fprintf(stdout, "%-45s %-34s %s\n", v.Name, v.Kind, v.Doc)
		}
		fmt.Fprintln(stdout, `step_up_outcome("kind"), step_up_status("kind"): history.step_ups[kind].outcome / .status`)
	}
	if !*useDefault && fs.NArg() == 0 {
		if *listVars {
			return 0
		}
		fs.Usage()
		return 2
	}
	code := 0
	if *useDefault {
		p, err := policy.Parse(policy.DefaultSource())
		code = max(code, report(stdout, stderr, "default", p, err))
	}
	for _, path := range fs.Args() {
		p, err := policy.Load(path)
		code = max(code, report(stdout, stderr, path, p, err))
	}
	return code
}

func report(stdout, stderr io.Writer, name string, p *policy.Policy, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "INVALID %s:\n%v\n", name, err)
		return 1
	}
	shadow := 0
	for _, r := range p.Rules {
		if r.Shadow {
			shadow++
		}
	}
	fmt.Fprintf(stdout, "ok %s: version %s, %d rules (%d shadow)\n", name, p.Version, len(p.Rules), shadow)
	return 0
}
