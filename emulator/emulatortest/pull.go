package emulatortest

import (
	"context"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/stretchr/testify/require"
)

// Topic creates a topic and a pull subscription on it, returning the subscription id.
func Topic(t testing.TB, c *pubsub.Client, project, topic string) string {
	t.Helper()
	ctx := context.Background()
	_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic})
	require.NoError(t, err)
	sub := topic + "-pull"
	_, err = c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:  "projects/" + project + "/subscriptions/" + sub,
		Topic: "projects/" + project + "/topics/" + topic, AckDeadlineSeconds: 10,
	})
	require.NoError(t, err)
	return sub
}

// Pull receives until n messages arrived or the wait is over, acking each.
func Pull(t testing.TB, c *pubsub.Client, sub string, n int, wait time.Duration) []*pubsub.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var mu sync.Mutex
	var got []*pubsub.Message
	err := c.Subscriber(sub).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
		if len(got) >= n {
			cancel()
		}
	})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	return got
}
