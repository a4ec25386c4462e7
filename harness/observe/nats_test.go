package observe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

func TestAckKind(t *testing.T) {
	for payload, want := range map[string]string{
		"":                       AckAck,
		"+ACK":                   AckAck,
		"+OK":                    AckAck,
		"+NXT":                   AckAck,
		`+NXT {"batch":1}`:       AckAck,
		"-NAK":                   AckNak,
		`-NAK {"delay":1000000}`: AckNak,
		"+WPI":                   AckWPI,
		"+TERM":                  AckTerm,
		"+TERM no longer wanted": AckTerm,
		"ACK":                    "",
		"+WPIX":                  "",
		"hello":                  "",
	} {
		require.Equal(t, want, AckKind([]byte(payload)), "payload %q", payload)
	}
}

// The nak and terminated advisories, the task lookup, and a server restart
// in the middle: the observer reconnects and keeps recording.
func TestNATSObserverAdvisoriesAndRestart(t *testing.T) {
	s := natsdtest.StartNATS(t)
	sink := history.NewMemory()
	o, err := NewNATSObserver(context.Background(), s.ClientURL(), sink,
		WithNATSTaskLookup(func(reply string) string {
			m, err := ackreply.Parse(reply)
			if err != nil {
				return ""
			}
			return fmt.Sprintf("img-%d", m.SSeq)
		}))
	require.NoError(t, err)
	t.Cleanup(o.Close)
	nc, js := natsdtest.ConnectJS(t, s.ClientURL())
	c := jobConsumer(t, js, 30*time.Second, 5)
	publishTasks(t, js, 3)

	ms := fetchAll(t, c, 3)
	ackSync(t, nc, ms[0], `-NAK {"delay": 60000000000}`)
	ackSync(t, nc, ms[1], "+TERM done with it")
	waitEvents(t, sink, history.KindAdvisory, 2)
	adv := withoutTs(sink.Of(history.KindAdvisory))
	require.ElementsMatch(t, []history.Event{
		{Kind: history.KindAdvisory, Type: AdvisoryTypeNak, Stream: testStream, ConsumerName: testConsumer, SSeq: 1, Deliveries: 1},
		{Kind: history.KindAdvisory, Type: AdvisoryTypeTerminated, Stream: testStream, ConsumerName: testConsumer, SSeq: 2, Deliveries: 1},
	}, adv)
	waitEvents(t, sink, history.KindAck, 2) // the copies of the acks may come after the advisories
	acks := sink.Of(history.KindAck)
	require.Len(t, acks, 2)
	require.Equal(t, AckNak, acks[0].Ack)
	require.Equal(t, AckTerm, acks[1].Ack)
	require.Equal(t, "img-1", acks[0].Task, "the lookup names the task")

	// nats_restart: the observer reconnects on its own and sees later acks.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Restart(ctx))
	polltest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if !o.nc.IsConnected() || !nc.IsConnected() {
			return errNotYet
		}
		// JetStream recovers its consumers after the server accepts
		// clients; until then an ack request waits for nobody (the
		// observer's listener counts as interest) and times out.
		ictx, icancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer icancel()
		_, err := c.Info(ictx)
		return err
	})
	ackSync(t, nc, ms[2], "+ACK")
	waitEvents(t, sink, history.KindAck, 3)
	require.Equal(t, uint64(3), sink.Of(history.KindAck)[2].SSeq)
	require.Zero(t, o.Dropped())
}

func TestNATSObserverOptions(t *testing.T) {
	for _, opt := range []NATSOption{WithObservePublishes("_INBOX.>"), WithObservePublishes("$JS.API.>"), WithObservePublishes(">"), WithNATSLogger(nil)} {
		_, err := NewNATSObserver(context.Background(), "nats://127.0.0.1:1", history.Discard, opt)
		require.ErrorContains(t, err, "observe:")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := NewNATSObserver(ctx, "nats://127.0.0.1:1", history.Discard)
	require.Error(t, err, "no server there")
}
