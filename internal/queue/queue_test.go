package queue

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/failure"
)

func fakeTopic(t *testing.T) (*pstest.Server, *Topic) { return fakeTopicTimeout(t, 2*time.Second) }

func fakeTopicTimeout(t *testing.T, timeout time.Duration) (*pstest.Server, *Topic) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	c, err := pubsub.NewClient(ctx, "p", option.WithGRPCConn(conn))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/p/topics/t"})
	require.NoError(t, err)
	top := NewTopic(c, "t", timeout)
	t.Cleanup(top.Stop)
	return srv, top
}

func TestPublishConfirms(t *testing.T) {
	srv, top := fakeTopic(t)
	id, err := top.Publish(context.Background(), []byte(`{"a":1}`), map[string]string{"k": "v"})
	require.NoError(t, err)
	m := srv.Message(id)
	require.NotNil(t, m)
	assert.Equal(t, `{"a":1}`, string(m.Data))
	assert.Equal(t, "v", m.Attributes["k"])
}

func TestPublishFailureIsTransient(t *testing.T) {
	srv, top := fakeTopic(t)
	srv.SetAutoPublishResponse(false)
	srv.AddPublishResponse(nil, status.Error(codes.InvalidArgument, "nope"))
	_, err := top.Publish(context.Background(), []byte("x"), nil)
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
}

// The topic's timeout bounds the publish by itself: callers pass their request's context.
func TestPublishTimeoutIsTheTopics(t *testing.T) {
	srv, top := fakeTopicTimeout(t, 150*time.Millisecond)
	srv.SetAutoPublishResponse(false) // the server never confirms
	start := time.Now()
	_, err := top.Publish(context.Background(), []byte("x"), nil)
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.Less(t, time.Since(start), 2*time.Second, "bounded by the topic's timeout, not the caller's context")
	srv.AddPublishResponse(&pubsubpb.PublishResponse{MessageIds: []string{"late"}}, nil) // let Stop flush
}

func TestDecode(t *testing.T) {
	data := base64.StdEncoding.EncodeToString([]byte(`{"session_id":"s"}`))
	tests := []struct {
		name    string
		payload string
		wantErr bool
	}{
		{"push", `{"message":{"data":"` + data + `","attributes":{"event_id":"e1"},"messageId":"42","publishTime":"2026-11-26T08:00:00Z"},"subscription":"projects/p/subscriptions/s"}`, false},
		{"not json", `{`, true},
		{"no data", `{"message":{"attributes":{}}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := event.New()
			e.SetID("ev")
			require.NoError(t, e.SetData("application/json", []byte(tt.payload)))
			m, err := Decode(e)
			if tt.wantErr {
				require.Error(t, err)
				assert.Equal(t, failure.Invalid, failure.KindOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, `{"session_id":"s"}`, string(m.Message.Data))
			assert.Equal(t, "e1", m.Message.Attributes["event_id"])
			assert.Equal(t, "42", m.Message.ID)
		})
	}
}
