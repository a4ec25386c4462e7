package harness

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// RawFetchAck is one round of the raw ceiling: create job's stream and a
// durable pull consumer, publish tasks tasks, and drain them with
// fetch(64)+ack. Exported for the benchmarks of package harness_test, which
// put it beside the end-to-end figure.
func RawFetchAck(ctx context.Context, js jetstream.JetStream, job int64, tasks int) error {
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: protocol.StreamName(job), Subjects: []string{protocol.TaskSubject(job)}}); err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, protocol.StreamName(job), jetstream.ConsumerConfig{
		Durable: protocol.ConsumerName(job), AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxAckPending: 1000,
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
