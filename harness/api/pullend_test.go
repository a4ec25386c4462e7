package api

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/internal/slowtest"
)

// TestFactStreamDeleteLosesPullEnd measures why, in soaks under -race,
// some /tasks calls waited out the pull guard (fetch wait + 1 s): the
// API's job cleanup deletes the stream in one call, and a pull of that job
// in flight should then end with "409 Consumer Deleted". nats-server
// 2.15.2 loses that end in two ways:
//
//   - It sends the 409 only to the pulls registered on the consumer's
//     waiting list (consumer.stopWithFlags → releaseAnyPendingRequests). A
//     pull request the server has received but not yet registered sits in
//     the consumer's nextMsgReqs queue, which stopWithFlags unregisters
//     unanswered. The window is the time between the request's arrival and
//     its registration — wider the slower the server (the race detector, a
//     loaded machine).
//   - Even for a registered pull, the 409 only goes onto the stream's
//     outbound queue; stream.stop closes the stream's quit channel right
//     after its consumers stop, and the stream's send loop (internalLoop)
//     may take the quit before the queued 409.
//
// Measured: a pull flushed to the server just before the delete hears
// nothing in 1–6 % of the rounds (3, 5 and 6 of 100 in three runs; 1 of
// 100 under -race); a registered pull, in about one round of several
// hundred (1 of 100 once, in a CI run). So the end is the rule, never a
// promise: the API's guard is what bounds a pull whose stream went.
func TestFactStreamDeleteLosesPullEnd(t *testing.T) {
	slowtest.Skip(t, "200 stream deletes")
	ns := natsdtest.StartNATS(t)
	nc, js := natsdtest.ConnectJS(t, ns.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const rounds = 100
	// round makes a stream and its consumer, sends a pull of batch 24 that
	// waits up to 10 s, deletes the stream — once the pull waits on the
	// consumer (registered) or at once, the pull request just flushed to
	// the server (in flight) — and reports whether the pull heard its end
	// in time (see wait).
	n := 0
	round := func(registered bool) bool {
		n++
		stream, consumer := fmt.Sprintf("job_%d", n), fmt.Sprintf("job-%d-consumer", n)
		// Under -race, nats-server now and then refuses a stream ("error
		// creating store for stream") right after many deletes: ask again.
		polltest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{fmt.Sprintf("job.%d.tasks", n)}})
			return err
		})
		cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: consumer, AckPolicy: jetstream.AckExplicitPolicy})
		require.NoError(t, err)
		ch := make(chan *nats.Msg, 4)
		inbox := nc.NewInbox()
		sub, err := nc.ChanSubscribe(inbox, ch)
		require.NoError(t, err)
		defer func() { require.NoError(t, sub.Unsubscribe()) }()
		req, _ := json.Marshal(map[string]int64{"batch": 24, "expires": (10 * time.Second).Nanoseconds()})
		require.NoError(t, nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+stream+"."+consumer, inbox, req))
		require.NoError(t, nc.Flush())
		if registered {
			require.Eventually(t, func() bool {
				info, err := cons.Info(ctx)
				return err == nil && info.NumWaiting == 1
			}, 5*time.Second, time.Millisecond)
		}
		require.NoError(t, js.DeleteStream(ctx, stream))
		// A registered pull that heard nothing would hear nothing until its
		// expiry (10 s): 5 s tells the two apart on a loaded machine, where
		// the 409 took more than a second (2 of 100 in one run); an
		// unregistered one is measured at a second, as the guard waits.
		wait := time.Second
		if registered {
			wait = 5 * time.Second
		}
		select {
		case m := <-ch:
			require.NotEmpty(t, m.Header.Get("Status"), "a pull's end, not a message: %v", m.Header)
			return true
		case <-time.After(wait):
			return false
		}
	}
	for _, registered := range []bool{true, false} {
		lost := 0
		for range rounds {
			if !round(registered) {
				lost++
			}
		}
		t.Logf("stream deleted under a pull (registered on the consumer: %v): %d of %d pulls heard nothing in time", registered, lost, rounds)
		if registered {
			// The rule the API leans on for a prompt end: a server that
			// stopped sending the 409 would lose every round.
			require.LessOrEqual(t, lost, rounds/10, "a pull waiting on the consumer as a rule hears its end (409 Consumer Deleted) when the stream goes")
		}
	}
}
