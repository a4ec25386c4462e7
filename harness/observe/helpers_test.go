package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// observeNATS starts a NATSObserver on url, closed when the test ends.
func observeNATS(t testing.TB, url string, sink history.Sink, opts ...NATSOption) *NATSObserver {
	t.Helper()
	o, err := NewNATSObserver(context.Background(), url, sink, opts...)
	require.NoError(t, err)
	t.Cleanup(o.Close)
	return o
}

var (
	testStream   = protocol.StreamName(1)
	testSubject  = protocol.TaskSubject(1)
	testConsumer = protocol.ConsumerName(1)
)

// jobConsumer creates the stream and durable pull consumer of docs/protocol.md
// for job 1, with the given ack_wait and max_deliver.
func jobConsumer(t testing.TB, js jetstream.JetStream, ackWait time.Duration, maxDeliver int) jetstream.Consumer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{testSubject}, MaxAge: 24 * time.Hour})
	require.NoError(t, err)
	c, err := js.CreateOrUpdateConsumer(ctx, testStream, jetstream.ConsumerConfig{
		Durable: testConsumer, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: testSubject, AckWait: ackWait, MaxDeliver: maxDeliver, MaxAckPending: 1000,
	})
	require.NoError(t, err)
	return c
}

// publishTasks publishes n task payloads with image ids img-1..img-n.
func publishTasks(t testing.TB, js jetstream.JetStream, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("img-%d", i)
		b, err := json.Marshal(protocol.Task{ID: protocol.ID(id), ImageID: protocol.ID(id), ImageURL: "http://x/" + id})
		require.NoError(t, err)
		_, err = js.Publish(ctx, testSubject, b)
		require.NoError(t, err)
	}
}

// fetch pulls up to n messages with one pull request waiting at most wait.
func fetch(t testing.TB, c jetstream.Consumer, n int, wait time.Duration) []jetstream.Msg {
	t.Helper()
	b, err := c.Fetch(n, jetstream.FetchMaxWait(wait))
	require.NoError(t, err)
	var out []jetstream.Msg
	for m := range b.Messages() {
		out = append(out, m)
	}
	return out
}

// fetchAll fetches n messages from c, waiting up to a second, and fails t
// unless all n came.
func fetchAll(t testing.TB, c jetstream.Consumer, n int) []jetstream.Msg {
	t.Helper()
	ms := fetch(t, c, n, time.Second)
	require.Len(t, ms, n)
	return ms
}

// delivery is what a message says about its delivery.
type delivery struct {
	sseq uint64
	dc   uint64
}

func deliveryOf(t testing.TB, m jetstream.Msg) delivery {
	t.Helper()
	md, err := m.Metadata()
	require.NoError(t, err)
	return delivery{md.Sequence.Stream, md.NumDelivered}
}

func apiTotal(t testing.TB, s *natsd.Server) uint64 {
	t.Helper()
	var j jsz
	natsdtest.Monitor(t, s, "/jsz", &j)
	return j.API.Total
}

func totalConnections(t testing.TB, s *natsd.Server) uint64 {
	t.Helper()
	var v varz
	natsdtest.Monitor(t, s, "/varz", &v)
	return v.TotalConnections
}

type testErr string

func (e testErr) Error() string { return string(e) }

const (
	errNotYet     testErr = "not yet"
	errNoDelivery testErr = "no delivery yet"
)

// ackSync sends payload (+ACK, -NAK, +WPI, ...) to m's reply subject as a
// request: the server answers once the consumer has processed it, so the
// next step sees its effect. The payload is what Ack, Nak and InProgress send.
func ackSync(t testing.TB, nc *nats.Conn, m jetstream.Msg, payload string) {
	t.Helper()
	_, err := nc.Request(m.Reply(), []byte(payload), 5*time.Second)
	require.NoError(t, err)
}

// waitEvents waits until sink holds at least n events of kind.
func waitEvents(t testing.TB, sink *history.Memory, kind history.Kind, n int) {
	t.Helper()
	polltest.CheckFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		if got := len(sink.Of(kind)); got < n {
			return fmt.Errorf("%d %s events, want %d", got, kind, n)
		}
		return nil
	})
}
