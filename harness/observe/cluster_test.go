package observe

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
)

// fakeNode is the monitoring port of one cluster node: its name, its
// counters and its view of the consumer job_1/job-1-consumer.
func fakeNode(t *testing.T, name, leader string, conns int, apiTotal uint64, pending int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/varz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"server_name":%q,"connections":%d,"total_connections":%d,"subscriptions":10,"slow_consumers":0}`, name, conns, conns*10)
	})
	mux.HandleFunc("/jsz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"api":{"total":%d},"account_details":[{"stream_detail":[{"name":"job_1","consumer_detail":[
			{"name":"job-1-consumer","config":{"ack_wait":2000000000,"max_deliver":3,"max_ack_pending":1000},
			 "cluster":{"leader":%q},"num_pending":%d,"num_ack_pending":%d,"delivered":{"consumer_seq":%d},"ack_floor":{"consumer_seq":1}}]}]}]}`,
			apiTotal, leader, pending, pending, pending)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// In a cluster the consumer event is the leader's view (followers lag) and
// the server event sums the nodes that answer; a node that is down adds
// nothing and does not fail the sample.
func TestSamplerCluster(t *testing.T) {
	n1 := fakeNode(t, "n1", "n2", 3, 100, 7) // a follower, behind
	n2 := fakeNode(t, "n2", "n2", 1, 40, 5)  // the consumer's leader
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	sink := history.NewMemory()
	s, err := NewSampler(context.Background(), n1.URL, sink, WithSamplerConsumer("job_1", "job-1-consumer"),
		WithSamplerNodes(n2.URL, downURL), WithSamplerInterval(time.Hour))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Sample(context.Background()))

	cons := sink.Of(history.KindConsumer)
	require.NotEmpty(t, cons)
	require.EqualValues(t, 5, cons[len(cons)-1].NumPending, "the leader's view")
	srv := sink.Of(history.KindServer)
	require.NotEmpty(t, srv)
	last := srv[len(srv)-1]
	require.Equal(t, 4, last.Connections, "summed over the nodes that answered")
	require.EqualValues(t, 140, last.JSAPITotal)

	pending, ack, found, err := s.ConsumerState(context.Background())
	require.NoError(t, err)
	require.True(t, found)
	require.EqualValues(t, 5, pending)
	require.Equal(t, 5, ack)

	cfg, found, err := s.ConsumerConfig(context.Background())
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, ConsumerSettings{AckWait: 2 * time.Second, MaxDeliver: 3, MaxAckPending: 1000}, cfg)

	require.Error(t, WithSamplerNodes("not a url")(&samplerConfig{}))
}
