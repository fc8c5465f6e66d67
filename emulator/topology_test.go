package emulator

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeadLettersMatchTerraform pins terraform/pubsub.tf's topic and dead-letter subscription
// names to the topology riskctl and the local runner use: the pull subscription of each
// dead-letter topic is "<dlq topic>-pull", and its messages came from the topic whose push
// subscriptions name that dead-letter topic.
func TestDeadLettersMatchTerraform(t *testing.T) {
	b, err := os.ReadFile("../terraform/pubsub.tf")
	require.NoError(t, err)
	tf := string(b)
	topic := func(key string) string {
		m := regexp.MustCompile(`(?m)^\s*` + key + `\s*=\s*"([^"]+)"`).FindStringSubmatch(tf)
		require.NotNil(t, m, "topics.%s in terraform/pubsub.tf", key)
		return m[1]
	}
	topo := DefaultTopology()
	dl := topo.DeadLetters()
	require.Len(t, dl, 2)
	for i, c := range []struct{ source, dlq string }{{"webhooks", "webhooks_dlq"}, {"decisions", "decisions_dlq"}} {
		t.Run(c.dlq, func(t *testing.T) {
			assert.Equal(t, topic(c.source), dl[i].Source)
			assert.Equal(t, topic(c.dlq), dl[i].Topic)
			assert.Regexp(t, `(?m)^\s*`+c.dlq+`\s*=\s*"\$\{local\.topics\.`+c.dlq+`\}-pull"`, tf)
			assert.Equal(t, dl[i].Topic+"-pull", dl[i].Subscription)
			// Every push subscription of the source topic dead-letters to this topic.
			pushes := regexp.MustCompile(`topic\s*=\s*"`+c.source+`"\s*\n\s*dlq\s*=\s*"([a-z_]+)"`).FindAllStringSubmatch(tf, -1)
			require.NotEmpty(t, pushes)
			for _, p := range pushes {
				assert.Equal(t, c.dlq, p[1])
			}
		})
	}
}
