package policy

import (
	"fmt"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/parser"
)

// env is built once: creating a CEL environment costs far more than compiling a rule.
var env = sync.OnceValues(newEnv)

func newEnv() (*cel.Env, error) {
	opts := []cel.EnvOption{
		// Let authors write `signals.liveness_score < 50` without `50.0`.
		cel.CrossTypeNumericComparisons(true),
		cel.Macros(stepUpMacro("step_up_outcome", "outcome"), stepUpMacro("step_up_status", "status")),
	}
	for _, v := range vocabulary() {
		opts = append(opts, cel.Variable(v.Name, v.Kind.celType()))
	}
	return cel.NewEnv(opts...)
}

// stepUpMacro expands step_up_outcome("nfc") into history.step_ups.nfc.outcome at parse time,
// so the kind is checked when the policy loads and a typo is an error, not a silent "".
func stepUpMacro(name, field string) cel.Macro {
	return cel.GlobalMacro(name, 1, func(eh parser.ExprHelper, _ ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
		arg := args[0]
		kind, ok := "", false
		if arg.Kind() == ast.LiteralKind {
			kind, ok = arg.AsLiteral().Value().(string)
		}
		if !ok {
			return nil, eh.NewError(arg.ID(), fmt.Sprintf("%s: the argument must be a string literal", name))
		}
		if !StepKind(kind).Valid() {
			return nil, eh.NewError(arg.ID(), fmt.Sprintf("%s: unknown step-up kind %q (want one of %s)", name, kind, stepKindList()))
		}
		stepUps := eh.NewSelect(eh.NewIdent("history"), "step_ups")
		return eh.NewSelect(eh.NewSelect(stepUps, kind), field), nil
	}, cel.MacroDocs(fmt.Sprintf("%s(kind) is history.step_ups.<kind>.%s, or \"\" when no such step-up exists", name, field)))
}
