package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/observe"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/apicall"
)

// NewJob waits for the API to answer, then creates a job of tasks tasks
// through POST /api/v2/jobs/ (or takes cfg.JobID), starts sampling its
// consumer and publishes its tasks (publish events) unless
// cfg.ObservePublishes: then the API publishes them and the observer
// records them.
func (e *External) NewJob(ctx context.Context, tasks int) (int64, error) {
	if err := e.waitLive(ctx); err != nil {
		return 0, err
	}
	id := e.cfg.JobID
	if id == 0 {
		var err error
		if id, err = e.Client.CreateJob(ctx, "natschaos", tasks); err != nil {
			return 0, fmt.Errorf("%w (is the API's NATS URL nats://%s?)", err, e.links[faults.LinkAPINATS])
		}
		e.mu.Lock()
		e.created = id
		e.mu.Unlock()
		fmt.Fprintf(e.out, "natschaos: created job %d (%d tasks) through the API\n", id, tasks)
	} else {
		fmt.Fprintf(e.out, "natschaos: waiting up to %s for job %d to exist (GET %s%s)\n", e.cfg.ReadyTimeout, id, protocol.APIBase, protocol.JobPath(id))
		if err := e.waitFor(ctx, fmt.Sprintf("job %d (--job-id) to exist", id), func(ctx context.Context) (bool, error) {
			_, err := e.Client.Job(ctx, id)
			return err == nil, err
		}); err != nil {
			return 0, err
		}
		fmt.Fprintf(e.out, "natschaos: driving job %d\n", id)
	}
	e.setJob(id)
	e.scope(id)

	if err := e.startSampler(ctx, id, e.cfg.MonitorURLs, e.cfg.SampleEvery); err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stopRead, e.readDone = cancel, make(chan struct{})
	go e.readBackLoop(rctx)

	if e.cfg.ObservePublishes {
		fmt.Fprintf(e.out, "natschaos: recording the API's own publishes on %s\n", protocol.TaskSubject(id))
		return id, nil
	}
	nc, err := nats.Connect(strings.Join(e.cfg.NATSURLs, ","), append([]nats.Option{nats.Name("natschaos-publisher")}, e.natsOpts...)...)
	if err != nil {
		return 0, fmt.Errorf("publisher connect: %s", Redact(err.Error(), e.cfg.NATSURLs...))
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, fmt.Errorf("publisher jetstream: %w", err)
	}
	if e.cfg.JobID != 0 {
		fmt.Fprintf(e.errOut, "natschaos: publishing %d made-up tasks into job %d, which this run did not create (--publish-into-job)\n", tasks, id)
	}
	if err := Publish(ctx, js, id, tasks, e.gate); err != nil {
		return 0, fmt.Errorf("%w (the API must have created stream %s for job %d)", err, protocol.StreamName(id), id)
	}
	fmt.Fprintf(e.out, "natschaos: published %d tasks into %s\n", tasks, protocol.TaskSubject(id))
	return id, nil
}

// waitLive waits up to cfg.ReadyTimeout for the API to answer, saying so.
func (e *External) waitLive(ctx context.Context) error {
	root := StripUser(e.apiBase) + protocol.APIBase + "/"
	fmt.Fprintf(e.out, "natschaos: waiting up to %s for the API at %s to answer\n", e.cfg.ReadyTimeout, root)
	return e.waitFor(ctx, "the API to answer GET "+protocol.APIBase+"/ with 200", func(ctx context.Context) (bool, error) {
		return e.live(ctx), nil
	})
}

// live reports whether the API's NATS-free endpoint answers 200.
func (e *External) live(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	status, _, err := apicall.Do(ctx, e.Client.client(), apicall.Request{Method: http.MethodGet, URL: e.apiBase + protocol.APIBase + "/"}, 1<<20)
	return err == nil && status == http.StatusOK
}

// StartWorkers starts the built-in workers against the worker-api link,
// unless the workers are external. They run until StopWorkers or Close.
func (e *External) StartWorkers(ctx context.Context) error {
	if e.cfg.ExternalWorkers {
		return nil
	}
	return e.startWorkers(ctx, e.cfg.Workers, e.cfg.Worker, e.cfg.AltBatchSize, e.cfg.APIToken)
}

// Ready waits, up to cfg.ReadyTimeout each, until traffic flows: with
// external workers, a request on worker-api; the job's consumer exists (the
// API creates it on the first /tasks call) — its settings become the config
// event, which opens the history; and, where the Toxiproxy counts bytes, the
// API talks to NATS through api-nats.
func (e *External) Ready(ctx context.Context) error {
	if e.cfg.ExternalWorkers {
		fmt.Fprintf(e.out, "natschaos: waiting up to %s for the workers' first request on %s\n", e.cfg.ReadyTimeout, e.WorkerURL())
		if err := e.waitFor(ctx, "a request from the workers on worker-api "+e.WorkerURL(), func(context.Context) (bool, error) {
			return e.httpProxy.Requests() > 0, nil
		}); err != nil {
			return err
		}
	}
	job := e.Job()
	fmt.Fprintf(e.out, "natschaos: waiting up to %s for consumer %s of stream %s (the API creates it on the first /tasks call)\n",
		e.cfg.ReadyTimeout, protocol.ConsumerName(job), protocol.StreamName(job))
	var cs observe.ConsumerSettings
	if err := e.waitFor(ctx, "consumer "+protocol.ConsumerName(job)+" on the monitoring port", func(ctx context.Context) (bool, error) {
		var found bool
		var err error
		cs, found, err = e.sampler.ConsumerConfig(ctx)
		return found, err
	}); err != nil {
		return err
	}
	e.gate.Open(history.Event{
		Kind: history.KindConfig, AckWait: cs.AckWait.Seconds(), MaxDeliver: cs.MaxDeliver, MaxAckPending: cs.MaxAckPending,
		Stream: protocol.StreamName(job), ConsumerName: protocol.ConsumerName(job),
		WorkerHTTPTimeout: e.cfg.Worker.HTTPTimeout.Seconds(), ConnectTimeout: e.cfg.ConnectTimeout.Seconds(),
	})
	fmt.Fprintf(e.out, "natschaos: consumer %s: ack_wait %s, max_deliver %d, max_ack_pending %d\n", protocol.ConsumerName(job), cs.AckWait, cs.MaxDeliver, cs.MaxAckPending)
	tc, ok := e.proxies.(faults.TrafficCounter)
	if !ok {
		fmt.Fprintf(e.out, "natschaos: this toxiproxy counts no bytes: make sure the API's NATS URL is nats://%s, or faults on api-nats act on nothing\n", e.links[faults.LinkAPINATS])
		return nil
	}
	if err := e.waitFor(ctx, "a byte from the API through api-nats nats://"+e.links[faults.LinkAPINATS]+" (the API's NATS URL must point there)", func(ctx context.Context) (bool, error) {
		n, err := tc.Traffic(ctx, faults.LinkAPINATS)
		return n > 0, err
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "natschaos: traffic flows through api-nats and worker-api: the run starts\n")
	return nil
}

// waitFor polls cond until it holds, ctx ends or cfg.ReadyTimeout passes;
// the error names what never happened.
func (e *External) waitFor(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	err := poll.Until(ctx, e.cfg.ReadyTimeout, 50*time.Millisecond, func(ctx context.Context) error {
		ok, err := cond(ctx)
		switch {
		case ok:
			return nil
		case err != nil:
			return err
		}
		return poll.NotYet
	})
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, poll.ErrTimedOut):
		return fmt.Errorf("waiting for %s: %w", what, err)
	case errors.Is(err, poll.NotYet):
		return fmt.Errorf("waited %s for %s: never happened", e.cfg.ReadyTimeout, what)
	}
	return fmt.Errorf("waited %s for %s: never happened (last error: %v)", e.cfg.ReadyTimeout, what, errors.Unwrap(err))
}

// readBackLoop reads the stored results back every cfg.StoredEvery until ctx ends.
func (e *External) readBackLoop(ctx context.Context) {
	defer close(e.readDone)
	poll.Every(ctx, e.cfg.StoredEvery, func() {
		if _, err := e.readBack(ctx); err != nil && ctx.Err() == nil {
			e.log.Debug("read back stored results", "err", err)
		}
	})
}

// readBack emits a stored event for every task in the job's stored_ids not
// seen before and a job event when its status changed, and returns the
// job's status.
func (e *External) readBack(ctx context.Context) (string, error) {
	job := e.Job()
	st, err := e.Client.Job(ctx, job)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range st.StoredIDs {
		if !e.stored[id] {
			e.stored[id] = true
			e.gate.Emit(history.Event{Kind: history.KindStored, Task: id})
		}
	}
	if st.Status != "" && (st.Status != e.status || st.Progress.Stored != e.progress) {
		// The API's own status changes are not observable from outside:
		// this is when the read-back saw it, never earlier than it happened.
		// A change of progress alone is written too (same status), so that
		// job-consistency sees the progress the API reported.
		e.status, e.progress = st.Status, st.Progress.Stored
		e.gate.Emit(history.Event{Kind: history.KindJob, Job: job, JobStatus: st.Status,
			ProgressStored: st.Progress.Stored, ProgressTotal: st.Progress.Total})
	}
	return st.Status, nil
}

// Finish reads back, from GET /api/v2/jobs/{id}/, which results the API
// holds (stored events for those not seen yet), after the drain.
func (e *External) Finish(ctx context.Context) error {
	if e.stopRead != nil {
		e.stopRead()
		<-e.readDone
	}
	if e.Job() == 0 {
		return nil
	}
	status, err := e.readBack(ctx)
	if err != nil {
		return fmt.Errorf("read back stored results: %w", err)
	}
	e.mu.Lock()
	n := len(e.stored)
	e.mu.Unlock()
	fmt.Fprintf(e.out, "natschaos: job %d is %s with %d results stored\n", e.Job(), status, n)
	if tc, ok := e.proxies.(faults.TrafficCounter); ok {
		if b, err := tc.Traffic(ctx, faults.LinkResultsNATS); err == nil && b == 0 {
			fmt.Fprintf(e.out, "natschaos: note: no byte went through results-nats: the result processor's NATS URL is not nats://%s, so faults on results-nats acted on nothing\n", e.links[faults.LinkResultsNATS])
		}
	}
	return nil
}

// Ready and Finish of an embedded Stack are no-ops: it knows its config
// before anything runs, and its API records stored events itself.

// Connections is the client connections of every node, summed (/varz).
func (e *External) Connections(ctx context.Context) (int, error) {
	total, answered := 0, 0
	var errs []error
	for _, m := range e.cfg.MonitorURLs {
		n, err := observe.Connections(ctx, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		total += n
		answered++
	}
	if answered == 0 {
		return 0, errors.Join(errs...)
	}
	return total, nil
}
