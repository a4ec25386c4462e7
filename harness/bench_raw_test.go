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
		require.NoError(b, RawFetchAck(ctx, js, int64(i+1), benchTasks))
	}
	b.ReportMetric(float64(b.N*benchTasks)/time.Since(start).Seconds(), "tasks/s")
}

// RawFetchAck is one round of the raw ceiling: create job's stream and a
// durable pull consumer, publish tasks tasks, and drain them with
// fetch(64)+ack. Exported for the benchmarks of package harness_test, which
// put it beside the end-to-end figure.
func RawFetchAck(ctx context.Context, js jetstream.JetStream, job int64, tasks int) error {
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: StreamName(job), Subjects: []string{TaskSubject(job)}}); err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, StreamName(job), jetstream.ConsumerConfig{
		Durable: ConsumerName(job), AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxAckPending: 1000,
	})
	if err != nil {
		return err
	}
	if err := Publish(ctx, js, job, tasks, history.Discard); err != nil {
		return err
	}
	for got := 0; got < tasks; {
		batch, err := cons.Fetch(min(64, tasks-got), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			if err := m.Ack(); err != nil {
				return err
			}
			got++
		}
		if err := batch.Error(); err != nil {
			return err
		}
	}
	return nil
}
