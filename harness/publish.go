package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// Publish stores n tasks of job in its stream, with image ids "<job>-<i>",
// and emits a publish event per PubAck. Publishing is asynchronous with at
// most window acks outstanding; it stops at the first error.
func Publish(ctx context.Context, js jetstream.JetStream, job int64, n int, sink history.Sink) error {
	return PublishPaced(ctx, js, job, n, sink, nil)
}

// PublishPaced is Publish with pace, when not nil, called before each task
// is published: it returns when the task may go (a rate across jobs). Paced
// tasks are published one at a time, each PubAck awaited.
func PublishPaced(ctx context.Context, js jetstream.JetStream, job int64, n int, sink history.Sink, pace func(context.Context) error) error {
	const window = 256
	subject := protocol.TaskSubject(job)
	type pending struct {
		task string
		fut  jetstream.PubAckFuture
	}
	queue := make([]pending, 0, window)
	settle := func(p pending) error {
		select {
		case ack := <-p.fut.Ok():
			sink.Emit(history.Event{Kind: history.KindPublish, Task: p.task, SSeq: ack.Sequence})
			return nil
		case err := <-p.fut.Err():
			return fmt.Errorf("publish task %s: %w", p.task, err)
		case <-ctx.Done():
			return fmt.Errorf("publish task %s: %w", p.task, ctx.Err())
		}
	}
	for i := 1; i <= n; i++ {
		id := strconv.FormatInt(job, 10) + "-" + strconv.Itoa(i)
		if pace != nil {
			if err := pace(ctx); err != nil {
				return fmt.Errorf("publish task %s: %w", id, err)
			}
		}
		payload, err := json.Marshal(protocol.Task{ID: protocol.ID(id), ImageID: protocol.ID(id), ImageURL: "http://127.0.0.1/images/" + id + ".jpg"})
		if err != nil {
			return fmt.Errorf("encode task %s: %w", id, err)
		}
		fut, err := js.PublishAsync(subject, payload, jetstream.WithMsgID(id))
		if err != nil {
			return fmt.Errorf("publish task %s: %w", id, err)
		}
		queue = append(queue, pending{id, fut})
		// Paced, each PubAck is awaited at once: the publish event must be
		// recorded before a worker can store the task's result.
		if len(queue) == window || pace != nil {
			for _, p := range queue {
				if err := settle(p); err != nil {
					return err
				}
			}
			queue = queue[:0]
		}
	}
	for _, p := range queue {
		if err := settle(p); err != nil {
			return err
		}
	}
	return nil
}
