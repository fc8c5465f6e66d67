package emulator

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/riskwire/didit-risk/internal/config"
)

// Topology names the Pub/Sub resources the pipeline uses. Terraform creates the same ones in the
// cloud (terraform/pubsub.tf); keep the two in step.
type Topology struct {
	Webhooks, WebhooksDLQ   string // topic ids
	Decisions, DecisionsDLQ string
	ScorerPush              string // push subscription: webhooks -> scorer
	StepUpPush              string // push subscription: decisions (action = step_up, or about a step-up session) -> step-up
	BlockPush               string // push subscription: decisions (action = block) -> step-up, when enabled
	WebhooksDLQPull         string // pull subscriptions to inspect and replay dead letters
	DecisionsDLQPull        string
	MaxDeliveryAttempts     int32
	MinBackoff, MaxBackoff  time.Duration
	AckDeadline             time.Duration
}

// DefaultTopology matches Terraform's defaults.
func DefaultTopology() Topology {
	return Topology{
		Webhooks: config.DefaultWebhooksTopic, WebhooksDLQ: config.DefaultWebhooksTopic + "-dlq",
		Decisions: config.DefaultDecisionsTopic, DecisionsDLQ: config.DefaultDecisionsTopic + "-dlq",
		ScorerPush: "scorer-push", StepUpPush: "stepup-push", BlockPush: "blocklist-push",
		WebhooksDLQPull: config.DefaultWebhooksTopic + "-dlq-pull", DecisionsDLQPull: config.DefaultDecisionsTopic + "-dlq-pull",
		MaxDeliveryAttempts: 5, MinBackoff: 10 * time.Second, MaxBackoff: 600 * time.Second, AckDeadline: 60 * time.Second,
	}
}

// DeadLetter is one dead-letter topic: the pull subscription that keeps its messages and the
// topic its messages were dead-lettered from, where a replay publishes them again.
type DeadLetter struct {
	Subscription string // pull subscription on Topic
	Topic        string // the dead-letter topic
	Source       string // the topic whose push subscriptions dead-letter to Topic
}

// DeadLetters lists the topology's dead-letter topics, webhooks first.
func (t Topology) DeadLetters() []DeadLetter {
	return []DeadLetter{
		{Subscription: t.WebhooksDLQPull, Topic: t.WebhooksDLQ, Source: t.Webhooks},
		{Subscription: t.DecisionsDLQPull, Topic: t.DecisionsDLQ, Source: t.Decisions},
	}
}

// Endpoints are the base URLs of the functions that receive pushes; the push path
// /projects/P/topics/T lets the Functions Framework turn the push into a Pub/Sub CloudEvent.
type Endpoints struct {
	Scorer string // e.g. http://127.0.0.1:8080 ; empty: no push subscription (tests pull instead)
	StepUp string
	Block  bool // also deliver block decisions to the step-up function
}

// PushPath is the request path for pushes of a topic.
func PushPath(project, topic string) string {
	return "/projects/" + project + "/topics/" + topic
}

// Create lays out topics and subscriptions on the emulator (or any Pub/Sub), ignoring ones
// that already exist so it can run against a warm emulator.
func (t Topology) Create(ctx context.Context, c *pubsub.Client, project string, ep Endpoints) error {
	topic := func(id string) string { return "projects/" + project + "/topics/" + id }
	sub := func(id string) string { return "projects/" + project + "/subscriptions/" + id }
	for _, id := range []string{t.Webhooks, t.WebhooksDLQ, t.Decisions, t.DecisionsDLQ} {
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic(id)}); ignoreExists(err) != nil {
			return fmt.Errorf("create topic %s: %w", id, err)
		}
	}
	retry := &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(t.MinBackoff), MaximumBackoff: durationpb.New(t.MaxBackoff)}
	subs := []*pubsubpb.Subscription{
		{Name: sub(t.WebhooksDLQPull), Topic: topic(t.WebhooksDLQ), AckDeadlineSeconds: 60},
		{Name: sub(t.DecisionsDLQPull), Topic: topic(t.DecisionsDLQ), AckDeadlineSeconds: 60},
	}
	push := func(name, src, dlq, base, filter string) *pubsubpb.Subscription {
		return &pubsubpb.Subscription{
			Name: sub(name), Topic: topic(src), Filter: filter,
			AckDeadlineSeconds: int32(t.AckDeadline / time.Second),
			PushConfig: &pubsubpb.PushConfig{
				PushEndpoint: base + PushPath(project, src),
				Wrapper:      &pubsubpb.PushConfig_PubsubWrapper_{PubsubWrapper: &pubsubpb.PushConfig_PubsubWrapper{}},
			},
			RetryPolicy:      retry,
			DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{DeadLetterTopic: topic(dlq), MaxDeliveryAttempts: t.MaxDeliveryAttempts},
		}
	}
	if ep.Scorer != "" {
		subs = append(subs, push(t.ScorerPush, t.Webhooks, t.WebhooksDLQ, ep.Scorer, ""))
	}
	if ep.StepUp != "" {
		subs = append(subs, push(t.StepUpPush, t.Decisions, t.DecisionsDLQ, ep.StepUp, `attributes.action = "step_up" OR attributes:step_up_kind`))
		if ep.Block {
			subs = append(subs, push(t.BlockPush, t.Decisions, t.DecisionsDLQ, ep.StepUp, `attributes.action = "block"`))
		}
	}
	for _, s := range subs {
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, s); ignoreExists(err) != nil {
			return fmt.Errorf("create subscription %s: %w", s.Name, err)
		}
	}
	return nil
}

func ignoreExists(err error) error {
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return err
}
