package observe

// Facts about nats-server 2.15.2 that the observers and the checkers rely
// on, each measured against a real embedded server. Run them with
//
//	go test -race -run 'TestFact' ./harness/observe/

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

const factAckWait = time.Second

// TestFactAckListenerChangesNothing: a core subscription on $JS.ACK.> from a
// separate connection receives a copy of every ack (+ACK, -NAK, +WPI), and
// the consumer delivers exactly the same with and without it: the nak'ed
// message comes back at once, the in-progress one after ack_wait, the
// acked one never.
func TestFactAckListenerChangesNothing(t *testing.T) {
	run := func(t *testing.T, observed bool) (deliveries []delivery, acks []history.Event) {
		s := natsdtest.StartNATS(t)
		sink := history.NewMemory()
		if observed {
			observeNATS(t, s.ClientURL(), sink)
		}
		nc, js := natsdtest.ConnectJS(t, s.ClientURL())
		c := jobConsumer(t, js, factAckWait, 5)
		publishTasks(t, js, 3)

		first := fetchAll(t, c, 3)
		for _, m := range first {
			deliveries = append(deliveries, deliveryOf(t, m))
		}
		ackSync(t, nc, first[0], "+ACK")
		ackSync(t, nc, first[1], "-NAK")
		wpi := time.Now()
		ackSync(t, nc, first[2], "+WPI")

		// The nak'ed message comes back at once; ack it.
		again := fetch(t, c, 3, 500*time.Millisecond)
		require.Len(t, again, 1)
		require.Equal(t, delivery{2, 2}, deliveryOf(t, again[0]))
		deliveries = append(deliveries, deliveryOf(t, again[0]))
		ackSync(t, nc, again[0], "+ACK")

		// The in-progress one comes back after ack_wait (counted from the
		// +WPI), and nothing else does.
		var late []jetstream.Msg
		polltest.CheckFor(t, 3*factAckWait, 10*time.Millisecond, func() error {
			late = fetch(t, c, 3, 200*time.Millisecond)
			if len(late) == 0 {
				return errNoDelivery
			}
			return nil
		})
		require.GreaterOrEqual(t, time.Since(wpi), factAckWait-50*time.Millisecond)
		require.Len(t, late, 1)
		require.Equal(t, delivery{3, 2}, deliveryOf(t, late[0]))
		deliveries = append(deliveries, deliveryOf(t, late[0]))
		ackSync(t, nc, late[0], "+ACK")

		// Past another ack_wait, nothing is redelivered: every ack held.
		polltest.CheckFor(t, 3*factAckWait, 50*time.Millisecond, func() error {
			ci, err := c.Info(context.Background())
			require.NoError(t, err)
			if ci.AckFloor.Stream != 3 || ci.NumAckPending != 0 {
				return errNotYet
			}
			return nil
		})
		require.Empty(t, fetch(t, c, 3, factAckWait+200*time.Millisecond))

		if observed {
			polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
				if len(sink.Of(history.KindAck)) < 5 {
					return errNotYet
				}
				return nil
			})
		}
		return deliveries, sink.Of(history.KindAck)
	}

	plain, noAcks := run(t, false)
	seen, acks := run(t, true)
	require.Empty(t, noAcks)
	require.Equal(t, plain, seen, "the ack listener changed what the consumer delivered")

	type ack struct {
		sseq uint64
		dc   int
		kind string
	}
	var got []ack
	for _, e := range acks {
		got = append(got, ack{e.SSeq, e.DC, e.Ack})
		m, err := ackreply.Parse(e.Reply)
		require.NoError(t, err)
		require.Equal(t, testStream, m.Stream)
		require.Equal(t, testConsumer, m.Consumer)
	}
	require.Equal(t, []ack{{1, 1, AckAck}, {2, 1, AckNak}, {3, 1, AckWPI}, {2, 2, AckAck}, {3, 2, AckAck}}, got)
}

// TestFactTaskSubjectSeesPublishesOnly: a subscription on the task subject
// sees every publish once and no redelivery (redeliveries go to the pull
// request's inbox, never to the subject).
func TestFactTaskSubjectSeesPublishesOnly(t *testing.T) {
	s := natsdtest.StartNATS(t)
	sink := history.NewMemory()
	o := observeNATS(t, s.ClientURL(), sink, WithObservePublishes(""))
	_, js := natsdtest.ConnectJS(t, s.ClientURL())
	c := jobConsumer(t, js, factAckWait, 5)
	publishTasks(t, js, 3)

	fetchAll(t, c, 3)
	var redelivered []delivery
	polltest.CheckFor(t, 3*factAckWait, 10*time.Millisecond, func() error {
		for _, m := range fetch(t, c, 3, 200*time.Millisecond) {
			redelivered = append(redelivered, deliveryOf(t, m))
		}
		if len(redelivered) < 3 {
			return errNotYet
		}
		return nil
	})
	require.Equal(t, []delivery{{1, 2}, {2, 2}, {3, 2}}, redelivered)

	require.NoError(t, o.nc.Flush()) // everything routed to the observer has arrived
	var tasks []string
	for _, e := range sink.Of(history.KindPublish) {
		tasks = append(tasks, e.Task)
		require.Zero(t, e.SSeq, "a core subscription cannot know the stream sequence")
	}
	require.Equal(t, []string{"img-1", "img-2", "img-3"}, tasks)
}

// TestFactMaxDeliveriesAdvisory: for a pull consumer with max_deliver 2
// whose last delivery is never acked, the MAX_DELIVERIES advisory (fields
// stream, consumer, stream_seq, deliveries) comes only when a pull request
// arrives after the last ack_wait expired, not when the timer expires.
func TestFactMaxDeliveriesAdvisory(t *testing.T) {
	s := natsdtest.StartNATS(t)
	sink := history.NewMemory()
	o := observeNATS(t, s.ClientURL(), sink)
	_, js := natsdtest.ConnectJS(t, s.ClientURL())
	c := jobConsumer(t, js, factAckWait, 2)
	publishTasks(t, js, 1)

	fetchAll(t, c, 1)
	var last time.Time
	polltest.CheckFor(t, 3*factAckWait, 10*time.Millisecond, func() error {
		if ms := fetch(t, c, 1, 200*time.Millisecond); len(ms) == 1 {
			require.Equal(t, delivery{1, 2}, deliveryOf(t, ms[0]))
			last = time.Now()
			return nil
		}
		return errNoDelivery
	})

	// No pull request is waiting from here on: the last ack_wait expires
	// and, measured, no advisory comes for as long as no one asks.
	quiet := 2 * factAckWait
	for time.Since(last) < quiet {
		require.Empty(t, sink.Of(history.KindAdvisory), "advisory at ack_wait expiry, with no pull request")
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, o.nc.Flush())
	require.Empty(t, sink.Of(history.KindAdvisory), "advisory at ack_wait expiry, with no pull request")

	// The next pull request gets nothing, and brings the advisory.
	asked := time.Now()
	require.Empty(t, fetch(t, c, 1, 300*time.Millisecond))
	polltest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if len(sink.Of(history.KindAdvisory)) == 0 {
			return errNotYet
		}
		return nil
	})
	t.Logf("max_deliveries advisory %s after the pull request, %s after the last delivery", time.Since(asked), time.Since(last))
	adv := sink.Of(history.KindAdvisory)
	require.Len(t, adv, 1)
	require.Equal(t, history.Event{Kind: history.KindAdvisory, Type: AdvisoryTypeMaxDeliveries,
		Stream: testStream, ConsumerName: testConsumer, SSeq: 1, Deliveries: 2}, withoutT(adv[0]))

	// Another pull request brings neither a delivery nor a second advisory.
	require.Empty(t, fetch(t, c, 1, 300*time.Millisecond))
	require.NoError(t, o.nc.Flush())
	require.Len(t, sink.Of(history.KindAdvisory), 1)
}

func withoutT(e history.Event) history.Event { e.T = 0; return e }

// TestFactAPITotal measures what each client operation adds to /jsz
// api.total, the figure the round-trips checker divides by /tasks calls.
func TestFactAPITotal(t *testing.T) {
	s := natsdtest.StartNATS(t)
	nc, js := natsdtest.ConnectJS(t, s.ClientURL())
	c := jobConsumer(t, js, 30*time.Second, 5)
	publishTasks(t, js, 10)
	legacy, err := nc.JetStream()
	require.NoError(t, err)
	ctx := context.Background()

	var held []jetstream.Msg
	for _, tc := range []struct {
		op   string
		want uint64
		do   func(t *testing.T)
	}{
		{"monitoring reads (/varz, /jsz?consumers=true)", 0, func(t *testing.T) {
			var v varz
			natsdtest.Monitor(t, s, "/varz", &v)
			var j jsz
			natsdtest.Monitor(t, s, "/jsz?consumers=true", &j)
		}},
		{"stream info", 1, func(t *testing.T) {
			st, err := js.Stream(ctx, testStream)
			require.NoError(t, err)
			_ = st
		}},
		{"consumer info", 1, func(t *testing.T) {
			_, err := c.Info(ctx)
			require.NoError(t, err)
		}},
		{"jetstream.Consumer lookup", 1, func(t *testing.T) {
			_, err := js.Consumer(ctx, testStream, testConsumer)
			require.NoError(t, err)
		}},
		{"legacy PullSubscribe(subject, durable)", 2, func(t *testing.T) {
			sub, err := legacy.PullSubscribe(testSubject, testConsumer)
			require.NoError(t, err)
			t.Cleanup(func() { _ = sub.Unsubscribe() })
		}},
		{"legacy PullSubscribe bound to stream and durable", 1, func(t *testing.T) {
			sub, err := legacy.PullSubscribe(testSubject, testConsumer, nats.Bind(testStream, testConsumer))
			require.NoError(t, err)
			t.Cleanup(func() { _ = sub.Unsubscribe() })
		}},
		{"legacy bound PullSubscribe + Fetch(1) + Ack + Unsubscribe", 1, func(t *testing.T) {
			sub, err := legacy.PullSubscribe(testSubject, testConsumer, nats.Bind(testStream, testConsumer))
			require.NoError(t, err)
			ms, err := sub.Fetch(1, nats.MaxWait(time.Second))
			require.NoError(t, err)
			require.Len(t, ms, 1)
			require.NoError(t, ms[0].AckSync())
			require.NoError(t, sub.Unsubscribe())
		}},
		{"fetch(3)", 0, func(t *testing.T) {
			held = fetchAll(t, c, 3)
		}},
		{"publish", 0, func(t *testing.T) { publishTasks(t, js, 1) }},
		{"ack, nak, in-progress", 0, func(t *testing.T) {
			ackSync(t, nc, held[0], "+ACK")
			ackSync(t, nc, held[1], "-NAK")
			ackSync(t, nc, held[2], "+WPI")
		}},
		{"NATS observer start and stop", 0, func(t *testing.T) {
			o, err := NewNATSObserver(ctx, s.ClientURL(), history.Discard, WithObservePublishes(""))
			require.NoError(t, err)
			o.Close()
		}},
	} {
		t.Run(tc.op, func(t *testing.T) {
			before := apiTotal(t, s)
			tc.do(t)
			// Acks and pull requests are asynchronous: make sure the server
			// has processed what was sent before reading the counter.
			require.NoError(t, nc.Flush())
			require.Equal(t, tc.want, apiTotal(t, s)-before)
		})
	}
}

// TestFactAckSubjectTimestampIsStoreTime: the timestamp token of an ack
// reply subject is when the message was stored, the same on every delivery.
func TestFactAckSubjectTimestampIsStoreTime(t *testing.T) {
	s := natsdtest.StartNATS(t)
	_, js := natsdtest.ConnectJS(t, s.ClientURL())
	c := jobConsumer(t, js, factAckWait, 5)
	publishTasks(t, js, 1)
	st, err := js.Stream(context.Background(), testStream)
	require.NoError(t, err)
	stored, err := st.GetMsg(context.Background(), 1)
	require.NoError(t, err)

	first := fetchAll(t, c, 1)
	var second []jetstream.Msg
	polltest.CheckFor(t, 3*factAckWait, 10*time.Millisecond, func() error {
		if second = fetch(t, c, 1, 200*time.Millisecond); len(second) == 0 {
			return errNoDelivery
		}
		return nil
	})
	m1, err := ackreply.Parse(first[0].Reply())
	require.NoError(t, err)
	m2, err := ackreply.Parse(second[0].Reply())
	require.NoError(t, err)
	require.Equal(t, 2, m2.Delivered)
	require.Equal(t, stored.Time.UnixNano(), m1.Stored)
	require.Equal(t, m1.Stored, m2.Stored, "redelivery carries the same timestamp: it is not the delivery time")
}

// TestFactTotalConnections measures which connection attempts /varz
// total_connections counts: it counts every TCP connection the server
// accepted, from the accept on, whether or not the client then completes
// the handshake; attempts the server never accepted (it was down) never
// show, and a restarted server counts from zero.
func TestFactTotalConnections(t *testing.T) {
	s := natsdtest.StartNATS(t, natsdAuth("u", "p"))
	url := "nats://" + s.Addr()

	for _, tc := range []struct {
		attempt string
		want    uint64
		do      func(t *testing.T)
	}{
		{"successful connect", 1, func(t *testing.T) {
			nc, err := nats.Connect(url, nats.UserInfo("u", "p"))
			require.NoError(t, err)
			nc.Close()
		}},
		{"authorization failure", 1, func(t *testing.T) {
			_, err := nats.Connect(url, nats.UserInfo("u", "wrong"))
			require.Error(t, err)
		}},
		{"TCP connect closed before CONNECT", 1, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Addr())
			require.NoError(t, err)
			buf := make([]byte, 1)
			_, err = conn.Read(buf) // the server's INFO: it has accepted us
			require.NoError(t, err)
			require.NoError(t, conn.Close())
		}},
		{"monitoring HTTP requests", 0, func(t *testing.T) {
			var v varz
			natsdtest.Monitor(t, s, "/varz", &v)
		}},
	} {
		t.Run(tc.attempt, func(t *testing.T) {
			before := totalConnections(t, s)
			tc.do(t)
			require.Equal(t, tc.want, totalConnections(t, s)-before)
		})
	}

	t.Run("attempts while the server is down", func(t *testing.T) {
		s.Stop()
		for range 3 {
			_, err := nats.Connect(url, nats.UserInfo("u", "p"), nats.Timeout(200*time.Millisecond))
			require.Error(t, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Resume(ctx))
		require.Zero(t, totalConnections(t, s), "a restarted server counts from zero, and refused attempts never count")
	})
}

func natsdAuth(user, pass string) natsd.Option {
	return natsd.WithOptions(func(o *server.Options) { o.Username, o.Password = user, pass })
}

// TestFactListenersHideNoResponders: a core listener is interest, so a
// request that no JetStream component answers times out instead of failing
// at once with no responders. It matters for ack requests (AckSync,
// DoubleAck) to a consumer that is gone, and, with WithObservePublishes, for a
// JetStream publish to a subject no stream captures. Plain acks (+ACK
// published without a reply, as the reference API does) are not affected.
func TestFactListenersHideNoResponders(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []NATSOption
		subject  func(reply string) string
		observed error
	}{
		{"ack request to a deleted consumer", nil, func(reply string) string { return reply }, nats.ErrTimeout},
		{"publish request without a stream, publishes observed", []NATSOption{WithObservePublishes("")},
			func(string) string { return "job.2.tasks" }, nats.ErrTimeout},
		{"publish request without a stream, publishes not observed", nil,
			func(string) string { return "job.2.tasks" }, nats.ErrNoResponders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := natsdtest.StartNATS(t)
			nc, js := natsdtest.ConnectJS(t, s.ClientURL())
			c := jobConsumer(t, js, 30*time.Second, 5)
			publishTasks(t, js, 1)
			ms := fetchAll(t, c, 1)
			require.NoError(t, js.DeleteConsumer(context.Background(), testStream, testConsumer))
			subj := tc.subject(ms[0].Reply())

			_, err := nc.Request(subj, []byte("+ACK"), 300*time.Millisecond)
			require.ErrorIs(t, err, nats.ErrNoResponders, "without the observer")

			o, err := NewNATSObserver(context.Background(), s.ClientURL(), history.Discard, tc.opts...)
			require.NoError(t, err)
			defer o.Close()
			_, err = nc.Request(subj, []byte("+ACK"), 300*time.Millisecond)
			require.ErrorIs(t, err, tc.observed, "with the observer")
		})
	}
}
