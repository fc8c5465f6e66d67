package operator

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	getenv := env(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "DECISIONS_TOPIC": "dec"})
	for _, c := range []struct {
		name string
		args []string
		want func(t *testing.T, c Command)
		err  string
	}{
		{name: "show", args: []string{"show", "user-1"}, want: func(t *testing.T, c Command) {
			assert.Equal(t, Command{Name: "show", Project: "p", Database: "(default)", ID: "user-1", N: 20}, c)
		}},
		{name: "show flags after the id", args: []string{"show", "user-1", "-n", "5", "-project", "q"}, want: func(t *testing.T, c Command) {
			assert.Equal(t, "user-1", c.ID)
			assert.Equal(t, 5, c.N)
			assert.Equal(t, "q", c.Project)
		}},
		{name: "show flags before the id", args: []string{"show", "-n", "3", "user-1"}, want: func(t *testing.T, c Command) {
			assert.Equal(t, "user-1", c.ID)
			assert.Equal(t, 3, c.N)
		}},
		{name: "show without id", args: []string{"show"}, err: "takes one user or profile id"},
		{name: "show two ids", args: []string{"show", "a", "b"}, err: "takes one user or profile id"},
		{name: "override set", args: []string{"override", "set", "u1", "-action", "block", "-reason", "RISK-9", "-expires", "72h", "-actor", "ops"},
			want: func(t *testing.T, c Command) {
				assert.Equal(t, "override set", c.Name)
				assert.Equal(t, "dec", c.Topic)
				assert.Equal(t, OverrideRequest{ID: "u1", Action: policy.Block, Reason: "RISK-9", Expires: Expiry{After: 72 * time.Hour}, Actor: "ops"}, c.Set)
			}},
		{name: "override set bad action", args: []string{"override", "set", "u1", "-action", "ban", "-reason", "r", "-expires", "72h", "-actor", "ops"}, err: `-action "ban"`},
		{name: "override set no expiry", args: []string{"override", "set", "u1", "-action", "block", "-reason", "r", "-actor", "ops"}, err: "-expires is required"},
		{name: "override set email actor", args: []string{"override", "set", "u1", "-action", "block", "-reason", "r", "-expires", "1h", "-actor", "a@b.co"}, err: "personal data"},
		{name: "override set phone in reason", args: []string{"override", "set", "u1", "-action", "approve", "-reason", "call 0151 2345 6789", "-expires", "1h", "-actor", "ops"}, err: "personal data"},
		{name: "override clear", args: []string{"override", "clear", "u1", "-actor", "ops", "-reason", "RISK-9 resolved", "-republish"}, want: func(t *testing.T, c Command) {
			assert.Equal(t, ClearRequest{ID: "u1", Actor: "ops", Reason: "RISK-9 resolved", Republish: true}, c.Clear)
		}},
		{name: "override clear no reason", args: []string{"override", "clear", "u1", "-actor", "ops"}, err: "-reason is required"},
		{name: "override alone", args: []string{"override"}, err: "needs a subcommand"},
		{name: "reviews", args: []string{"reviews", "-limit", "7"}, want: func(t *testing.T, c Command) {
			assert.Equal(t, "reviews", c.Name)
			assert.Equal(t, 7, c.N)
		}},
		{name: "reviews with an id", args: []string{"reviews", "x"}, err: "takes no argument"},
		{name: "reviews zero", args: []string{"reviews", "-limit", "0"}, err: "must be positive"},
		{name: "dlq list", args: []string{"dlq", "list", "-sub", "didit-webhooks-dlq-pull", "-data"}, want: func(t *testing.T, c Command) {
			assert.Equal(t, "didit-webhooks-dlq-pull", c.Sub)
			assert.True(t, c.WithData)
			assert.Equal(t, 20, c.N)
		}},
		{name: "dlq replay ids", args: []string{"dlq", "replay", "-ids", "1, 2,,3"}, want: func(t *testing.T, c Command) {
			assert.Equal(t, []string{"1", "2", "3"}, c.IDs)
			assert.False(t, c.All)
		}},
		{name: "dlq replay all", args: []string{"dlq", "replay", "-all"}, want: func(t *testing.T, c Command) { assert.True(t, c.All) }},
		{name: "dlq replay neither", args: []string{"dlq", "replay"}, err: "-ids a,b,… or -all"},
		{name: "dlq replay both", args: []string{"dlq", "replay", "-all", "-ids", "1"}, err: "-ids a,b,… or -all"},
		{name: "unknown", args: []string{"frobnicate"}, err: "unknown command"},
		{name: "unknown flag", args: []string{"show", "u", "-bogus"}, err: "flag provided but not defined"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.args, getenv, io.Discard)
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			c.want(t, got)
		})
	}
}

func TestParseNeedsAProject(t *testing.T) {
	_, err := Parse([]string{"reviews"}, env(nil), io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-project (or GOOGLE_CLOUD_PROJECT) is required")
	_, err = Parse(nil, env(nil), io.Discard)
	assert.True(t, IsHelp(err))
}
