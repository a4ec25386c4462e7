package harness

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/chaos/history"
	"github.com/natschaos/natschaos/harness/natsd"
)

// benchTasks is the number of tasks per iteration of the throughput
// benchmarks; the raw and end-to-end ones use the same so their tasks/s
// compare side by side.
const benchTasks = 2000

// BenchmarkRawJetStream is the ceiling the harness is measured against: in
// this process, publish benchTasks tasks and drain them with fetch(64)+ack on
// one connection, no HTTP, no proxies, no observers.
func BenchmarkRawJetStream(b *testing.B) {
	srv, err := natsd.Start()
	require.NoError(b, err)
	defer srv.Close()
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(b, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(b, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		job := int64(i + 1)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: StreamName(job), Subjects: []string{TaskSubject(job)}})
		require.NoError(b, err)
		cons, err := js.CreateOrUpdateConsumer(ctx, StreamName(job), jetstream.ConsumerConfig{
			Durable: ConsumerName(job), AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxAckPending: 1000,
		})
		require.NoError(b, err)
		require.NoError(b, Publish(ctx, js, job, benchTasks, history.Discard))
		for got := 0; got < benchTasks; {
			batch, err := cons.Fetch(min(64, benchTasks-got), jetstream.FetchMaxWait(time.Second))
			require.NoError(b, err)
			for m := range batch.Messages() {
				require.NoError(b, m.Ack())
				got++
			}
			require.NoError(b, batch.Error())
		}
	}
	b.ReportMetric(float64(b.N*benchTasks)/time.Since(start).Seconds(), "tasks/s")
}
