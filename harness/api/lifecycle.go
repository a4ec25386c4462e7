package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/protocol"
)

// ErrNotFound is returned for a job id the API does not know.
var ErrNotFound = errors.New("api: job not found")

// CreateJob creates a job: it ensures the advisories stream, creates the
// job's stream and records the job as STARTED, or CREATED unless
// spec.StartNow. Its tasks are published by whoever drives the job. NATS
// trouble is an error and creates nothing.
//
// Job ids start at 1 in every process, so the stream job_<id> may already
// exist on the server: another API process's (running, or gone and its
// streams left behind) or anybody's. Such an id is skipped, never reused:
// the stream is created with this process's owner mark in its description,
// and JetStream refuses to create a stream whose name exists with another
// configuration. So the API deletes only streams it created itself.
func (a *API) CreateJob(ctx context.Context, spec JobSpec) (protocol.Job, error) {
	if spec.Total < 1 {
		return protocol.Job{}, fmt.Errorf("api: job total %d < 1", spec.Total)
	}
	if spec.Pipeline == "" {
		spec.Pipeline = DefaultPipeline
	}
	if spec.Dispatch == "" {
		spec.Dispatch = protocol.DispatchAsyncAPI
	}
	status := protocol.StatusCreated
	if spec.StartNow {
		status = protocol.StatusStarted
	}
	if spec.Dispatch != protocol.DispatchAsyncAPI {
		// No stream: its tasks do not go through NATS.
		j := newJob(a.jobs.nextID(), spec, status)
		a.jobs.add(j)
		return j.snapshot(), nil
	}
	nc, release, err := a.ownConn(ctx)
	if err != nil {
		return protocol.Job{}, err
	}
	defer release()
	js, err := a.newJetStream(nc)
	if err != nil {
		return protocol.Job{}, err
	}
	octx, cancel := a.opContext(ctx)
	defer cancel()
	if _, err := js.CreateStream(octx, a.advisoryStreamConfig()); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return protocol.Job{}, fmt.Errorf("create advisories stream: %w", err)
	}
	var id int64
	for attempt := 1; ; attempt++ {
		id = a.jobs.nextID()
		_, err := js.CreateStream(octx, a.streamConfig(id))
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return protocol.Job{}, fmt.Errorf("create stream %s: %w", protocol.StreamName(id), err)
		}
		if attempt == maxIDSkips {
			return protocol.Job{}, fmt.Errorf("create job: streams %s … %s all exist already, created by others", protocol.StreamName(id-maxIDSkips+1), protocol.StreamName(id))
		}
		a.log.Debug("job id skipped: its stream exists, not ours", "stream", protocol.StreamName(id))
	}
	j := newJob(id, spec, status)
	a.jobs.add(j)
	return j.snapshot(), nil
}

// maxIDSkips bounds how many job ids CreateJob skips because their stream
// exists already.
const maxIDSkips = 10000

// Job returns a snapshot of job id.
func (a *API) Job(id int64) (protocol.Job, bool) { return a.jobs.get(id) }

// CancelJob cancels job id: CANCELING, its consumer and stream deleted,
// then REVOKED. A job already SUCCESS, FAILURE or REVOKED is left as it
// is. The deletion is the background task queue's work, as it is for a
// finished job: it runs on the result processor's connection (the
// results-nats link), and the request waits for it. On NATS trouble the
// job stays CANCELING (terminal for /tasks) and a later CancelJob retries
// the cleanup; so does the processor, in the background, until it succeeds
// and the job becomes REVOKED. It backs faults.Process.CancelJob.
func (a *API) CancelJob(ctx context.Context, id int64) (protocol.Job, error) {
	status, ok := a.jobs.status(id)
	if !ok {
		return protocol.Job{}, ErrNotFound
	}
	if status == protocol.StatusSuccess || status == protocol.StatusFailure || status == protocol.StatusRevoked {
		j, _ := a.jobs.get(id)
		return j, nil
	}
	a.jobs.setStatus(id, protocol.StatusCanceling, func(s string) bool {
		return s != protocol.StatusSuccess && s != protocol.StatusFailure && s != protocol.StatusRevoked
	})
	if err := a.proc.cleanupJob(ctx, id); err != nil {
		a.proc.retryCleanup(id)
		return protocol.Job{}, err
	}
	a.jobs.setStatus(id, protocol.StatusRevoked, func(s string) bool { return s == protocol.StatusCanceling })
	j, _ := a.jobs.get(id)
	return j, nil
}

func newJob(id int64, spec JobSpec, status string) *job {
	return &job{
		id: id, name: spec.Name, pipeline: spec.Pipeline, dispatch: spec.Dispatch, status: status, total: spec.Total,
		processed: map[string]struct{}{}, results: map[string]json.RawMessage{}, stored: map[string]struct{}{},
	}
}
