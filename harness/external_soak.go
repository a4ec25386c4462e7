package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// SoakJobs are the jobs a soak against an external target created and
// has not forgotten yet (ExternalConfig.Soak): the only jobs its workers
// serve and whose events reach its history. A job leaves the set when the
// soak forgets it (once judged), so the set is the jobs in flight, however
// long the soak.
type SoakJobs struct {
	mu       sync.Mutex
	jobs     map[int64]*soakJob
	template *history.Event // the first job's config event, once known

	foreign atomic.Int64 // events of other jobs dropped
}

// soakJob is what the read-back of one job has seen so far.
type soakJob struct {
	stored   map[string]bool
	status   string
	progress int
}

// NewSoakJobs returns an empty set.
func NewSoakJobs() *SoakJobs { return &SoakJobs{jobs: map[int64]*soakJob{}} }

// Has reports whether id is a job of the soak (in flight).
func (s *SoakJobs) Has(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[id] != nil
}

// Foreign is how many events of jobs that are not the soak's (other jobs
// on the same API and NATS, or the soak's own after it forgot them) were
// dropped before the history.
func (s *SoakJobs) Foreign() int { return int(s.foreign.Load()) }

func (s *SoakJobs) add(id int64) {
	s.mu.Lock()
	s.jobs[id] = &soakJob{stored: map[string]bool{}}
	s.mu.Unlock()
}

// remove drops id and returns its last status read back ("" if never).
func (s *SoakJobs) remove(id int64) (status string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	delete(s.jobs, id)
	if j == nil {
		return "", false
	}
	return j.status, true
}

func (s *SoakJobs) ids() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int64, 0, len(s.jobs))
	for id := range s.jobs {
		out = append(out, id)
	}
	return out
}

// filter is a sink in front of sink that drops the events of jobs not in s.
func (s *SoakJobs) filter(sink history.Sink) history.Sink { return soakFilter{s, sink} }

type soakFilter struct {
	jobs *SoakJobs
	sink history.Sink
}

// Emit implements history.Sink.
func (f soakFilter) Emit(e history.Event) {
	if id := history.JobOf(&e); id != 0 && !f.jobs.Has(id) {
		f.jobs.foreign.Add(1)
		return
	}
	f.sink.Emit(e)
}

// soakJobs is e's set, or an error when e is not a soak's target.
func (e *External) soakJobs() (*SoakJobs, error) {
	if e.cfg.Soak == nil {
		return nil, errors.New("soak: the external target was not started with ExternalConfig.Soak")
	}
	return e.cfg.Soak, nil
}

// StartSoak, on an External started with ExternalConfig.Soak, waits for the
// API to answer, then starts the sampler of the servers and the built-in
// workers, which serve the soak's jobs only. Jobs are made with NewSoakJob.
func (e *External) StartSoak(ctx context.Context) error {
	soak, err := e.soakJobs()
	if err != nil {
		return err
	}
	if e.cfg.ExternalWorkers {
		return errors.New("soak: the workers must be the built-in ones (they serve only the soak's jobs)")
	}
	if err := e.waitLive(ctx); err != nil {
		return err
	}
	if err := e.startSampler(ctx, 0, e.cfg.MonitorURLs, e.cfg.SampleEvery); err != nil {
		return err
	}
	wc := e.cfg.Worker
	wc.JobFilter = soak.Has
	return e.startWorkers(ctx, e.cfg.Workers, wc, e.cfg.AltBatchSize, e.cfg.APIToken)
}

// NewSoakJob creates a job of tasks tasks through the API — a job of the
// soak from then on, cancelled by CloseSoak if it has not ended — and
// publishes its tasks (paced by pace when not nil). The first job's
// consumer, which the API creates on the workers' first /tasks call, is
// waited for (up to ReadyTimeout): its settings are the config event that
// opens the history. Every later job's config event is the first one's
// with the job's stream and consumer, written before its tasks.
func (e *External) NewSoakJob(ctx context.Context, tasks int, pace func(context.Context) error) (int64, error) {
	soak, err := e.soakJobs()
	if err != nil {
		return 0, err
	}
	id, err := e.Client.CreateJob(ctx, "natschaos-soak", tasks)
	if err != nil {
		return 0, fmt.Errorf("%w (is the API's NATS URL nats://%s?)", err, e.links[faults.LinkAPINATS])
	}
	soak.add(id)
	e.mu.Lock()
	e.job = id // the job a cancel_job fault cancels
	e.mu.Unlock()
	soak.mu.Lock()
	tmpl := soak.template
	soak.mu.Unlock()
	if tmpl != nil {
		ev := *tmpl
		ev.T, ev.Stream, ev.ConsumerName = 0, protocol.StreamName(id), protocol.ConsumerName(id)
		e.gate.Emit(ev)
	}
	nc, err := nats.Connect(strings.Join(e.cfg.NATSURLs, ","), append([]nats.Option{nats.Name("natschaos-publisher")}, e.natsOpts...)...)
	if err != nil {
		return id, fmt.Errorf("publisher connect: %s", Redact(err.Error(), e.cfg.NATSURLs...))
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return id, fmt.Errorf("publisher jetstream: %w", err)
	}
	if err := PublishPaced(ctx, js, id, tasks, e.gate, pace); err != nil {
		return id, fmt.Errorf("%w (the API must have created stream %s for job %d)", err, protocol.StreamName(id), id)
	}
	if tmpl != nil {
		return id, nil
	}
	var info *jetstream.ConsumerInfo
	fmt.Fprintf(e.out, "natschaos: waiting up to %s for consumer %s of stream %s (the API creates it on the first /tasks call)\n",
		e.cfg.ReadyTimeout, protocol.ConsumerName(id), protocol.StreamName(id))
	if err := e.waitFor(ctx, "consumer "+protocol.ConsumerName(id), func(ctx context.Context) (bool, error) {
		c, err := js.Consumer(ctx, protocol.StreamName(id), protocol.ConsumerName(id))
		if err != nil {
			return false, err
		}
		info, err = c.Info(ctx)
		return err == nil, err
	}); err != nil {
		return id, err
	}
	ev := ConfigEvent(info, e.cfg.Worker.HTTPTimeout, e.cfg.ConnectTimeout)
	soak.mu.Lock()
	soak.template = &ev
	soak.mu.Unlock()
	e.gate.Open(ev)
	fmt.Fprintf(e.out, "natschaos: consumer %s: ack_wait %s, max_deliver %d, max_ack_pending %d (every job's consumer is taken to have these)\n",
		protocol.ConsumerName(id), info.Config.AckWait, info.Config.MaxDeliver, info.Config.MaxAckPending)
	return id, nil
}

// soakReadTimeout bounds one read-back of a soak's job.
const soakReadTimeout = 5 * time.Second

// JobDone reads job id back from the API (GET /api/v2/jobs/{id}/): a
// stored event for every result not seen before and a job event when its
// status or progress changed; it reports whether the job ended (SUCCESS,
// FAILURE or REVOKED). A read that fails says not yet.
func (e *External) JobDone(id int64) bool {
	soak, err := e.soakJobs()
	if err != nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), soakReadTimeout)
	defer cancel()
	st, err := e.Client.Job(ctx, id)
	if err != nil {
		e.log.Debug("read back soak job", "job", id, "err", err)
		return false
	}
	var evs []history.Event // emitted once soak.mu is released: the filter takes it
	soak.mu.Lock()
	j := soak.jobs[id]
	if j == nil {
		soak.mu.Unlock()
		return true // forgotten
	}
	for _, task := range st.StoredIDs {
		if !j.stored[task] {
			j.stored[task] = true
			evs = append(evs, history.Event{Kind: history.KindStored, Task: task})
		}
	}
	if st.Status != "" && (st.Status != j.status || st.Progress.Stored != j.progress) {
		j.status, j.progress = st.Status, st.Progress.Stored
		evs = append(evs, history.Event{Kind: history.KindJob, Job: id, JobStatus: st.Status,
			ProgressStored: st.Progress.Stored, ProgressTotal: st.Progress.Total})
	}
	soak.mu.Unlock()
	for _, ev := range evs {
		e.gate.Emit(ev)
	}
	switch st.Status {
	case "SUCCESS", "FAILURE", "REVOKED":
		return true
	}
	return false
}

// ForgetJob drops job id from the soak (its events are dropped from then
// on) and cancels it unless it ended: a soak forgets a job once judged,
// also one judged because it ran past its time limit.
func (e *External) ForgetJob(id int64) {
	soak, err := e.soakJobs()
	if err != nil {
		return
	}
	if status, ok := soak.remove(id); ok && !protocol.Terminal(status) {
		e.cancelCreated(id)
	}
}

// CloseSoak closes a soak's External: it stops the workers, heals every
// fault, cancels every job of the soak that has not ended (the jobs in
// flight of an interrupted soak) and closes the External. Like Close it
// uses its own timeouts: it runs on every way out.
func (e *External) CloseSoak() {
	e.StopWorkers()
	if soak := e.cfg.Soak; soak != nil {
		if ids := soak.ids(); len(ids) > 0 {
			if e.proxies != nil {
				// Heal first: the API cancels through its NATS links.
				ctx, cancel := context.WithTimeout(context.Background(), faults.DefaultHealTimeout)
				if err := e.rig.Heal(ctx); err != nil {
					e.log.Warn("heal before cancelling the soak's jobs", "err", err)
				}
				cancel()
			}
			for _, id := range ids {
				e.ForgetJob(id)
			}
		}
	}
	e.Close()
}
