package observe

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
)

func TestSamplerValues(t *testing.T) {
	s := natsdtest.StartNATS(t)
	sink := history.NewMemory()
	// A long interval: the test takes its samples itself.
	sm, err := NewSampler(context.Background(), s.MonitorURL(), sink,
		WithSamplerConsumer(testStream, testConsumer), WithSamplerInterval(time.Hour))
	require.NoError(t, err)
	t.Cleanup(sm.Close)
	ctx := context.Background()

	// Before the consumer exists: a server event, no consumer event.
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if len(sink.Of(history.KindServer)) == 0 {
			return errNotYet
		}
		return nil
	})
	require.Empty(t, sink.Of(history.KindConsumer))

	nc, js := natsdtest.ConnectJS(t, s.ClientURL())
	c := jobConsumer(t, js, 30*time.Second, 5)
	publishTasks(t, js, 5)
	ms := fetchAll(t, c, 2)
	ackSync(t, nc, ms[0], "+ACK")
	ackSync(t, nc, ms[1], "-NAK")
	fetchAll(t, c, 1) // the nak'ed one, redelivered

	// nats-server counts a message pending for the consumer when the
	// stream's signal loop hands it over, after the publish was acked: a
	// sample right after the publishes can lag (num_pending 1, not 3, on a
	// loaded machine). Sample until the server's count has caught up.
	before := apiTotal(t, s)
	want := history.Event{
		Kind: history.KindConsumer, Stream: testStream, ConsumerName: testConsumer,
		NumPending: 3, NumAckPending: 1, NumRedelivered: 1, NumWaiting: 0, Delivered: 3, AckFloor: 1,
	}
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if err := sm.Sample(ctx); err != nil {
			return err
		}
		cons := sink.Of(history.KindConsumer)
		if len(cons) == 0 {
			return errors.New("no consumer sample")
		}
		if got := withoutT(cons[len(cons)-1]); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("consumer sample %+v, want %+v", got, want)
		}
		return nil
	})
	require.Equal(t, before, apiTotal(t, s), "sampling made a JetStream API call")
	sampled := len(sink.Of(history.KindConsumer))

	srv := sink.Of(history.KindServer)
	last := srv[len(srv)-1]
	require.Equal(t, 1, last.Connections, "the test's own connection; the sampler makes none")
	require.Equal(t, uint64(1), last.TotalConnections)
	require.Equal(t, before, last.JSAPITotal)
	require.NotZero(t, last.Subscriptions)
	require.Zero(t, last.SlowConsumers)
	require.Equal(t, server.VERSION, last.Version, "the embedded nats-server's version, from /varz")
	require.Equal(t, testStream, last.Stream, "the server sample says the job's stream exists")

	// A consumer that no longer exists gives no consumer event, not zeros.
	require.NoError(t, js.DeleteConsumer(ctx, testStream, testConsumer))
	require.NoError(t, sm.Sample(ctx))
	require.Len(t, sink.Of(history.KindConsumer), sampled)
	// Nor does a deleted stream show on the server sample.
	require.NoError(t, js.DeleteStream(ctx, testStream))
	require.NoError(t, sm.Sample(ctx))
	srv = sink.Of(history.KindServer)
	require.Empty(t, srv[len(srv)-1].Stream)
}

func TestSamplerLoopAndUnreachableServer(t *testing.T) {
	s := natsdtest.StartNATS(t)
	sink := history.NewMemory()
	sm, err := NewSampler(context.Background(), s.MonitorURL(), sink, WithSamplerInterval(20*time.Millisecond))
	require.NoError(t, err)
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if len(sink.Of(history.KindServer)) < 3 {
			return errNotYet
		}
		return nil
	})

	// While the server is down the sampler emits nothing and keeps going.
	s.Stop()
	require.Error(t, sm.Sample(context.Background()))
	n := len(sink.Of(history.KindServer))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Resume(ctx))
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if len(sink.Of(history.KindServer)) <= n {
			return errNotYet
		}
		return nil
	})
	sm.Close()
	sm.Close() // twice is fine
	select {
	case <-sm.run.done: // Close waited for the loop: nothing is emitted after it
	default:
		t.Fatal("sampler loop still running after Close")
	}
}

func TestSamplerOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
		opt  SamplerOption
	}{
		{"bad url", "localhost:8222", nil},
		{"zero interval", "http://127.0.0.1:1", WithSamplerInterval(0)},
		{"negative timeout", "http://127.0.0.1:1", WithSamplerTimeout(-time.Second)},
		{"consumer without stream", "http://127.0.0.1:1", WithSamplerConsumer("", "c")},
		{"nil logger", "http://127.0.0.1:1", WithSamplerLogger(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []SamplerOption
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			_, err := NewSampler(context.Background(), tc.url, history.Discard, opts...)
			require.Error(t, err)
		})
	}
}
