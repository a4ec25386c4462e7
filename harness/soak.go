package harness

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/protocol"
)

// StartSoak starts, on a stack with Config.AllJobs, the sampler of the
// servers and the workers, which serve every job of the API. Jobs are
// made with NewSoakJob, before or after.
func (s *Stack) StartSoak(ctx context.Context) error {
	if !s.cfg.AllJobs {
		return errors.New("soak: the stack was not started with AllJobs")
	}
	monitors := make([]string, len(s.Nodes))
	for i, nd := range s.Nodes {
		monitors[i] = nd.MonitorURL()
	}
	if err := s.startSampler(ctx, 0, monitors, s.cfg.SampleEvery); err != nil {
		return err
	}
	return s.StartWorkers(ctx)
}

// NewSoakJob creates a job of tasks tasks through the API, creates its
// consumer exactly as the API would, records its config event (its stream
// and consumer name it) and publishes the tasks. Unlike NewJob it narrows
// no observer: every job of a soak is the run's. The job becomes the one
// a cancel_job fault cancels. pace, when not nil, paces the publishes
// (see PublishPaced).
func (s *Stack) NewSoakJob(ctx context.Context, tasks int, pace func(context.Context) error) (int64, error) {
	id, err := s.Client.CreateJob(ctx, "natschaos-soak", tasks)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.job = id
	s.mu.Unlock()
	nc, err := nats.Connect(s.NATS.ClientURL(), nats.Name("natschaos-publisher"))
	if err != nil {
		return id, fmt.Errorf("publisher connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return id, fmt.Errorf("publisher jetstream: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, protocol.StreamName(id), s.API().ConsumerConfig(id))
	if err != nil {
		return id, fmt.Errorf("create consumer of job %d: %w", id, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return id, fmt.Errorf("consumer info of job %d: %w", id, err)
	}
	s.sink.Emit(ConfigEvent(info, s.cfg.Worker.HTTPTimeout, s.cfg.API.ConnectTimeout))
	return id, PublishPaced(ctx, js, id, tasks, s.sink, pace)
}

// JobDone reports whether the job of id is over: SUCCESS, FAILURE or
// REVOKED (an unknown job is over too).
func (s *Stack) JobDone(id int64) bool {
	status, ok := s.API().JobStatus(id)
	if !ok {
		return true
	}
	switch status {
	case protocol.StatusSuccess, protocol.StatusFailure, protocol.StatusRevoked:
		return true
	}
	return false
}

// ForgetJob drops an ended job, and its stored results, from the embedded
// API's job store (which stands in for the platform's database), and what
// the embedded NATS servers keep of its deleted stream (see
// [natsd.Server.ForgetStream]): a soak calls it once the job is judged, so
// that its memory stays flat.
func (s *Stack) ForgetJob(id int64) {
	if !s.API().Forget(id) {
		return
	}
	for _, n := range s.Nodes {
		n.ForgetStream(protocol.StreamName(id))
	}
}
