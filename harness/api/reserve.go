package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

// StreamConfig is the configuration of job id's stream (docs/protocol.md).
func StreamConfig(id int64) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:      protocol.StreamName(id),
		Subjects:  []string{protocol.TaskSubject(id)},
		Retention: jetstream.LimitsPolicy,
		MaxAge:    24 * time.Hour,
	}
}

// AdvisoryStreamConfig is the configuration of the advisories stream that
// keeps JetStream advisories for dead-letter accounting.
func AdvisoryStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:      protocol.AdvisoryStream,
		Subjects:  []string{"$JS.EVENT.ADVISORY.>"},
		Retention: jetstream.LimitsPolicy,
		MaxAge:    time.Hour,
	}
}

// streamConfig is StreamConfig(id) with the API's replica count.
// The description carries the process's owner mark: a stream of the same
// name created by anybody else differs, so CreateStream refuses it (see
// CreateJob).
func (a *API) streamConfig(id int64) jetstream.StreamConfig {
	c := StreamConfig(id)
	c.Replicas = a.cfg.Replicas
	c.Description = "natschaos sut job " + strconv.FormatInt(id, 10) + ", owner " + a.owner
	return c
}

// advisoryStreamConfig is AdvisoryStreamConfig with the API's replica count.
func (a *API) advisoryStreamConfig() jetstream.StreamConfig {
	c := AdvisoryStreamConfig()
	c.Replicas = a.cfg.Replicas
	return c
}

// ConsumerConfig is the durable pull consumer the API ensures for job id. A
// harness that creates it before publishing (so that the first event of a
// history can be the consumer's real settings) must use exactly this.
func (a *API) ConsumerConfig(id int64) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       protocol.ConsumerName(id),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: protocol.TaskSubject(id),
		AckWait:       a.cfg.AckWait,
		MaxDeliver:    a.cfg.MaxDeliver,
		MaxAckPending: a.cfg.MaxAckPending,
		Replicas:      a.cfg.Replicas,
	}
}

// How often, and after what pause, a fetch that found no responders is asked
// again (see reserve).
const (
	noRespondersRetries = 3
	noRespondersPause   = 20 * time.Millisecond
)

// errNoStream is returned by openConsumer when the job's stream is missing.
var errNoStream = errors.New("stream missing")

// reserve takes up to n tasks of job id from NATS for one /tasks call. It
// returns no tasks and no error when the stream is missing (and, unless the
// variant recreates it, leaves it missing); any NATS trouble is an error.
func (a *API) reserve(ctx context.Context, id int64, n int) ([]protocol.Task, error) {
	nc, release, err := a.requestConn(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	js, err := a.newJetStream(nc)
	if err != nil {
		return nil, err
	}
	if a.beh.oneByOne {
		return a.reserveOneByOne(ctx, nc, js, id, n)
	}
	if a.cpool != nil {
		if cons, ok := a.cpool.consumer(nc, id); ok {
			tasks, err := a.fetch(ctx, nc, cons, id, n)
			if !errors.Is(err, nats.ErrNoResponders) {
				return tasks, err
			}
			// Nobody answers the pull: the stream (and the consumer with
			// it) may be gone. Look again, as a first /tasks does.
			a.cpool.keep(nc, id, nil)
		}
	}
	cons, err := a.openConsumer(ctx, js, id)
	if errors.Is(err, errNoStream) {
		return []protocol.Task{}, nil
	}
	if err != nil {
		return nil, err
	}
	if a.cpool != nil {
		a.cpool.keep(nc, id, cons)
	}
	return a.fetch(ctx, nc, cons, id, n)
}

// fetch is one batch pull of up to n tasks of job id on cons.
func (a *API) fetch(ctx context.Context, nc *nats.Conn, cons jetstream.Consumer, id int64, n int) ([]protocol.Task, error) {
	// See pull; the late-fetch variant stops on its own timer instead.
	deadline := time.Now().Add(a.cfg.FetchWait)
	lost := nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	defer nc.RemoveStatusListener(lost)
	tasks := []protocol.Task{}
	var ferr error
	// In a cluster, a consumer created a moment ago may not yet have its
	// pull subject's interest on this server (it crosses a route): the
	// fetch then fails at once with no responders, having reserved nothing.
	// That is not NATS trouble: ask again, within the same fetch wait.
	for attempt := 0; ; attempt++ {
		asked := time.Now()
		wait := time.Until(deadline)
		if wait < time.Millisecond {
			break
		}
		if a.beh.lateFetch {
			tasks, ferr = a.fetchLate(ctx, cons, id, n, deadline, asked, lost)
		} else {
			tasks, ferr = a.pull(ctx, nc, id, n, wait, asked, lost)
		}
		if len(tasks) > 0 || attempt >= noRespondersRetries || !errors.Is(ferr, nats.ErrNoResponders) || time.Until(deadline) <= 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(noRespondersPause, time.Until(deadline))):
		}
	}
	if errors.Is(ferr, context.DeadlineExceeded) && ctx.Err() == nil {
		ferr = nil // the fetch wait ran out: that is the end of a short batch
	}
	if ferr == nil && len(tasks) == 0 && !nc.IsConnected() {
		ferr = fmt.Errorf("nats connection %s during fetch", nc.Status())
	}
	if ferr != nil {
		if len(tasks) > 0 {
			// These are reserved already: hand them out rather than orphan them.
			a.log.Warn("fetch ended with an error after some tasks", "job", id, "tasks", len(tasks), "err", ferr)
			return tasks, nil
		}
		return nil, fmt.Errorf("fetch %d from %s: %w", n, protocol.StreamName(id), ferr)
	}
	return tasks, nil
}

// pullGuard is how long a pull is read past its wait when NATS does not
// say it ended (a lost status message).
const pullGuard = time.Second

// pull is one batch pull of up to n tasks of job id: one pull request that
// NATS holds open for wait, read until the batch is full or NATS ends the
// pull (its expiry status, which comes after every delivery of the pull on
// the same connection), with a guard of wait + pullGuard, or until ctx
// ends, the connection drops or this API deletes the job's stream (see
// streamEnds). So a delivery still on the wire when wait
// runs out (a slow link) is received and handed out, not dropped — and
// nothing outlives the call. Pull statuses: 100 heartbeat, 404/408 the
// pull's end, 409 the pull refused or cut short, 503 no responders.
func (a *API) pull(ctx context.Context, nc *nats.Conn, id int64, n int, wait time.Duration, asked time.Time, lost <-chan nats.Status) ([]protocol.Task, error) {
	ch := make(chan *nats.Msg, n+16)
	inbox := nc.NewInbox()
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("pull subscription: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	req, err := json.Marshal(struct {
		Batch   int   `json:"batch"`
		Expires int64 `json:"expires"`
	}{n, wait.Nanoseconds()})
	if err != nil {
		return nil, err
	}
	gone, release := a.ends.watch(id) // before the request: a delete right after it is heard
	defer release()
	if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+protocol.StreamName(id)+"."+protocol.ConsumerName(id), inbox, req); err != nil {
		return nil, fmt.Errorf("pull request: %w", err)
	}
	guard := time.NewTimer(wait + pullGuard)
	defer guard.Stop()
	tasks := []protocol.Task{}
	for len(tasks) < n {
		select {
		case m := <-ch:
			if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
				switch status {
				case "100":
					continue
				case "404", "408":
					return tasks, nil
				case "409":
					if strings.EqualFold(m.Header.Get("Description"), "Consumer Deleted") {
						return tasks, nil // the job's cleanup ran: as a missing stream, 200 with what came
					}
					return tasks, fmt.Errorf("pull ended with status 409 %s", m.Header.Get("Description"))
				case "503":
					return tasks, nats.ErrNoResponders
				default:
					return tasks, fmt.Errorf("pull ended with status %s %s", status, m.Header.Get("Description"))
				}
			}
			if t, ok := a.received(id, m.Reply, m.Data, asked); ok {
				tasks = append(tasks, t)
			}
		case <-guard.C:
			return tasks, nil
		case <-gone:
			return tasks, nil // as 409 Consumer Deleted, which may never come
		case <-ctx.Done():
			return tasks, ctx.Err() // the request is over: nobody takes these
		case <-lost:
			return tasks, fmt.Errorf("nats connection %s during fetch", nc.Status())
		}
	}
	return tasks, nil
}

// fetchLate is the late-fetch variant's fetch: the client library's fetch
// under a context whose deadline is the fetch wait, which asks NATS for 90 %
// of it and abandons the pull at the deadline, deliveries still on the wire
// included.
func (a *API) fetchLate(ctx context.Context, cons jetstream.Consumer, id int64, n int, deadline, asked time.Time, lost <-chan nats.Status) ([]protocol.Task, error) {
	fctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		return nil, err
	}
	tasks := []protocol.Task{}
	msgs := batch.Messages()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return tasks, batch.Error()
			}
			if t, ok := a.received(id, m.Reply(), m.Data(), asked); ok {
				tasks = append(tasks, t)
			}
		case <-lost:
			return tasks, fmt.Errorf("nats connection lost during fetch")
		}
	}
}

// openConsumer is the metadata part of a reserve: stream info (+1 JetStream
// API call), consumer info (+1) and, the first time, consumer create (+1).
func (a *API) openConsumer(ctx context.Context, js jetstream.JetStream, id int64) (jetstream.Consumer, error) {
	octx, cancel := a.opContext(ctx)
	defer cancel()
	stream, err := js.Stream(octx, protocol.StreamName(id))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if !a.beh.recreateStream {
			return nil, errNoStream
		}
		// The bug: cleanup deleted it, and reserve brings it back.
		a.log.Debug("recreating missing stream", "stream", protocol.StreamName(id))
		stream, err = js.CreateStream(octx, a.streamConfig(id))
	}
	if err != nil {
		return nil, fmt.Errorf("stream info %s: %w", protocol.StreamName(id), err)
	}
	cons, err := stream.Consumer(octx, protocol.ConsumerName(id))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = stream.CreateConsumer(octx, a.ConsumerConfig(id))
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, errNoStream // deleted between the two calls
	}
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", protocol.ConsumerName(id), err)
	}
	return cons, nil
}

// reserveOneByOne is the reserve-one-by-one bug: for each task, its own
// stream info, consumer info, a new legacy pull subscription (stream lookup
// and consumer info), fetch(1) and unsubscribe: about five round trips and
// four JetStream API calls per task.
func (a *API) reserveOneByOne(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, id int64, n int) ([]protocol.Task, error) {
	legacy, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("legacy jetstream: %w", err)
	}
	tasks := []protocol.Task{}
	fail := func(err error) ([]protocol.Task, error) {
		if len(tasks) > 0 {
			a.log.Warn("one-by-one reserve ended with an error after some tasks", "job", id, "tasks", len(tasks), "err", err)
			return tasks, nil
		}
		return nil, err
	}
	for len(tasks) < n {
		if _, err := a.openConsumer(ctx, js, id); err != nil {
			if errors.Is(err, errNoStream) {
				return tasks, nil
			}
			return fail(err)
		}
		// The subscription lives as long as sctx: keep it until unsubscribed.
		sctx, cancel := a.opContext(ctx)
		sub, err := legacy.PullSubscribe(protocol.TaskSubject(id), protocol.ConsumerName(id), nats.Context(sctx))
		if err != nil {
			cancel()
			return fail(fmt.Errorf("pull subscribe %s: %w", protocol.ConsumerName(id), err))
		}
		asked := time.Now()
		msgs, err := sub.Fetch(1, nats.MaxWait(a.cfg.FetchWait))
		if uerr := sub.Unsubscribe(); uerr != nil {
			a.log.Debug("unsubscribe", "err", uerr)
		}
		cancel()
		for _, m := range msgs {
			if t, ok := a.received(id, m.Reply, m.Data, asked); ok {
				tasks = append(tasks, t)
			}
		}
		if errors.Is(err, nats.ErrTimeout) || (err == nil && len(msgs) == 0) {
			return tasks, nil // nothing more to take
		}
		if err != nil {
			return fail(fmt.Errorf("fetch 1 from %s: %w", protocol.StreamName(id), err))
		}
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
	}
	return tasks, nil
}

// received records one delivery the API got from NATS (a reserve event)
// and turns it into a task of the response.
//
// The reserve event's ms is how long ago the pull that brought the message
// was asked for: NATS started the delivery's ack_wait somewhere in that
// span, so a checker that must not call a redelivery premature can take
// the span's start (a loaded machine delays the receipt, not the timer).
func (a *API) received(id int64, reply string, data []byte, asked time.Time) (protocol.Task, bool) {
	var p protocol.Task
	perr := json.Unmarshal(data, &p)
	imageID := string(p.ImageID)
	if imageID == "" {
		imageID = string(p.ID)
	}
	ev := history.Event{Kind: history.KindReserve, Task: imageID, Reply: reply, MS: float64(time.Since(asked).Microseconds()) / 1000}
	if meta, err := ackreply.Parse(reply); err == nil {
		ev.SSeq, ev.DSeq, ev.DC = meta.SSeq, meta.DSeq, meta.Delivered
	} else {
		a.log.Warn("delivery with an unreadable reply subject", "job", id, "reply", reply, "err", err)
	}
	a.emit(ev)
	if perr != nil || imageID == "" {
		a.log.Warn("task payload is not a task; not handed out", "job", id, "reply", reply, "err", perr)
		return protocol.Task{}, false
	}
	taskID := p.ID
	if taskID == "" {
		taskID = p.ImageID
	}
	r := reply
	return protocol.Task{ID: taskID, ImageID: protocol.ID(imageID), ImageURL: p.ImageURL, ReplySubject: &r}, true
}
