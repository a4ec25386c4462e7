package observe

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
)

// TestNATSObserverScope: on a server shared with another job, a scoped
// observer records only its stream's and consumer's acks and advisories
// and its subject's publishes; the rest is dropped at the source and
// counted, and written as one foreign event at Close.
func TestNATSObserverScope(t *testing.T) {
	s := natsdtest.StartNATS(t)
	sink := history.NewMemory()
	o, err := NewNATSObserver(context.Background(), s.ClientURL(), sink, WithNATSScopeLater(), WithObservePublishes(""))
	require.NoError(t, err)
	nc, js := natsdtest.ConnectJS(t, s.ClientURL())

	// Before the scope is known, nothing is recorded: an ack of another job.
	other := otherJob(t, js, 2)
	ms := fetchAll(t, other, 1)
	ackSync(t, nc, ms[0], "+ACK")
	polltest.CheckFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		if o.Foreign() < 2 { // the publish on job.2.tasks and its ack
			return fmt.Errorf("foreign %d", o.Foreign())
		}
		return nil
	})

	o.Scope(testStream, testConsumer, testSubject)
	ours := jobConsumer(t, js, 30*time.Second, 5)
	publishTasks(t, js, 2)
	mine := fetchAll(t, ours, 2)
	ackSync(t, nc, mine[0], "+ACK")
	ackSync(t, nc, mine[1], "+TERM")
	// The other job, same sequence numbers: an ack, a term (advisory).
	publishOther(t, js, 2, 1)
	theirs := fetchAll(t, other, 2)
	ackSync(t, nc, theirs[0], "+ACK")
	ackSync(t, nc, theirs[1], "+TERM")

	waitEvents(t, sink, history.KindAck, 2)
	waitEvents(t, sink, history.KindAdvisory, 1)
	waitEvents(t, sink, history.KindPublish, 2)
	// 2 before the scope; then 2 publishes, 2 acks and 1 advisory of job 2.
	polltest.CheckFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		if o.Foreign() < 7 {
			return fmt.Errorf("foreign %d", o.Foreign())
		}
		return nil
	})
	o.Close()
	for _, e := range sink.Of(history.KindAck) {
		require.Contains(t, e.Reply, "."+testStream+"."+testConsumer+".", "an ack of another job recorded")
	}
	adv := sink.Of(history.KindAdvisory)
	require.Len(t, adv, 1)
	require.Equal(t, testStream, adv[0].Stream)
	require.Equal(t, testConsumer, adv[0].ConsumerName)
	require.Len(t, sink.Of(history.KindAck), 2)
	require.Len(t, sink.Of(history.KindPublish), 2)
	fe := sink.Of(history.KindForeign)
	require.Len(t, fe, 1)
	require.Equal(t, ObserverNATS, fe[0].Name)
	require.Equal(t, 7, fe[0].N)
}

// otherJob is job 2's stream and consumer, with n tasks published.
func otherJob(t testing.TB, js jetstream.JetStream, n int) jetstream.Consumer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "job_2", Subjects: []string{"job.2.tasks"}})
	require.NoError(t, err)
	c, err := js.CreateOrUpdateConsumer(ctx, "job_2", jetstream.ConsumerConfig{
		Durable: "job-2-consumer", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: 5,
	})
	require.NoError(t, err)
	publishOther(t, js, 1, 0)
	return c
}

func publishOther(t testing.TB, js jetstream.JetStream, n, from int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range n {
		_, err := js.Publish(ctx, "job.2.tasks", fmt.Appendf(nil, `{"image_id": "theirs-%d"}`, from+i))
		require.NoError(t, err)
	}
}

// TestProxyScope: the recording proxy forwards calls on another job's URLs
// but records none of them (no http, handout or result event); it counts
// them and writes one foreign event at Close. Calls that name no job are
// recorded as before.
func TestProxyScope(t *testing.T) {
	api := newFakeAPI(t)
	sink := history.NewMemory()
	p, err := NewProxy(api.URL, nil, sink, WithProxyRecordTasks(), WithProxyScopeLater())
	require.NoError(t, err)
	c := newClient(t, 5*time.Second)

	call := func(path string) {
		resp, _, err := post(t, c, p.URL()+path, "w1", `{"batch_size": 2, "results": [{"reply_subject": "x", "result": {}}]}`)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	call("/api/v2/jobs/1/tasks/") // before SetJob: not the run's yet
	p.SetJob(1)
	call(tasksPath)
	call(resultPath)
	call("/api/v2/jobs/2/tasks/")
	call("/api/v2/jobs/2/result/")
	call("/api/v2/jobs/")
	require.EqualValues(t, 6, api.calls.Load(), "every call is forwarded")
	waitEvents(t, sink, history.KindHTTP, 3)
	require.NoError(t, p.Close())

	for _, e := range sink.Of(history.KindHTTP) {
		require.NotContains(t, e.Path, "/jobs/2/")
	}
	require.Len(t, sink.Of(history.KindHTTP), 3, "the run's /tasks and /result and GET-like /jobs/")
	require.Len(t, sink.Of(history.KindHandout), 2, "the handouts of one /tasks call of the run's job")
	fe := sink.Of(history.KindForeign)
	require.Len(t, fe, 1)
	require.Equal(t, ObserverHTTPProxy, fe[0].Name)
	require.Equal(t, 3, fe[0].N)
}
