package api

import (
	"encoding/json"
	"sort"
	"strconv"
	"sync"
)

// Job statuses, as the platform names them.
const (
	StatusCreated   = "CREATED"
	StatusStarted   = "STARTED"
	StatusRetry     = "RETRY"
	StatusCanceling = "CANCELING"
	StatusRevoked   = "REVOKED"
	StatusSuccess   = "SUCCESS"
	StatusFailure   = "FAILURE"
)

// DefaultPipeline is the pipeline slug of a job created without one.
const DefaultPipeline = "default"

// listed reports whether the job list's incomplete_only keeps a job in
// status s: as on the platform, every job not finished — not yet started
// and being cancelled included.
func listed(s string) bool {
	return s == StatusStarted || s == StatusRetry || s == StatusCreated || s == StatusCanceling
}

// servesTasks reports whether /tasks may touch NATS for a job in status s
// (the terminal-job guard).
func servesTasks(s string) bool { return s == StatusStarted || s == StatusRetry }

// StreamName is the JetStream stream of job id.
func StreamName(id int64) string { return "job_" + strconv.FormatInt(id, 10) }

// ConsumerName is the durable pull consumer of job id.
func ConsumerName(id int64) string { return "job-" + strconv.FormatInt(id, 10) + "-consumer" }

// Subject is the subject the tasks of job id are published on.
func Subject(id int64) string { return "job." + strconv.FormatInt(id, 10) + ".tasks" }

// Job is a snapshot of a job's state, as GET /api/v2/jobs/{id}/ shows it.
type Job struct {
	ID        int64    `json:"id"`
	Name      string   `json:"name"`
	Pipeline  string   `json:"pipeline_slug"`
	Dispatch  string   `json:"dispatch_mode"`
	Status    string   `json:"status"`
	Progress  Progress `json:"progress"`
	StoredIDs []string `json:"stored_ids"` // image ids in the order they were stored
}

// Progress counts a job's stored results against its total.
type Progress struct {
	Stored int `json:"stored"`
	Total  int `json:"total"`
}

type job struct {
	id        int64
	name      string
	pipeline  string
	dispatch  string // DispatchAsyncAPI, DispatchSyncAPI or DispatchInternal
	status    string
	total     int
	processed map[string]struct{}
	results   map[string]json.RawMessage
	stored    map[string]struct{}
	storedIDs []string
}

func (j *job) progress() Progress { return Progress{Stored: len(j.storedIDs), Total: j.total} }

func (j *job) snapshot() Job {
	return Job{
		ID: j.id, Name: j.name, Pipeline: j.pipeline, Dispatch: j.dispatch, Status: j.status,
		Progress:  j.progress(),
		StoredIDs: append([]string{}, j.storedIDs...),
	}
}

// jobStore is the API's job state (the platform's database), safe for
// concurrent use. onStatus is called, outside the lock, on every status
// change in the order they happen for a given job, with the progress the
// job had when it changed.
type jobStore struct {
	mu       sync.Mutex
	next     int64
	jobs     map[int64]*job
	onStatus func(id int64, status string, p Progress)
	onStored func(id int64, task string)
	early    int        // the early-success variant: a job completes this many results before its total
	emitMu   sync.Mutex // keeps status events in the order of the changes
}

func newJobStore(onStatus func(int64, string, Progress), onStored func(int64, string)) *jobStore {
	return &jobStore{jobs: make(map[int64]*job), onStatus: onStatus, onStored: onStored}
}

// nextID reserves the next job id (1, 2, ...).
func (s *jobStore) nextID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	return s.next
}

func (s *jobStore) add(j *job) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	s.jobs[j.id] = j
	status, p := j.status, j.progress()
	s.mu.Unlock()
	s.onStatus(j.id, status, p)
}

func (s *jobStore) get(id int64) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return Job{}, false
	}
	return j.snapshot(), true
}

// dispatch returns the dispatch mode of job id.
func (s *jobStore) dispatch(id int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return j.dispatch
	}
	return ""
}

// pipeline returns the pipeline slug of job id ("" when unknown).
func (s *jobStore) pipeline(id int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return j.pipeline
	}
	return ""
}

func (s *jobStore) status(id int64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return "", false
	}
	return j.status, true
}

func (s *jobStore) list() []Job {
	s.mu.Lock()
	out := make([]Job, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, j.snapshot())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	return out
}

// setStatus moves job id to status when allow(current status) holds; it
// reports whether it did.
func (s *jobStore) setStatus(id int64, status string, allow func(string) bool) bool {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	j, ok := s.jobs[id]
	if !ok || j.status == status || (allow != nil && !allow(j.status)) {
		s.mu.Unlock()
		return false
	}
	j.status = status
	p := j.progress()
	s.mu.Unlock()
	s.onStatus(id, status, p)
	return true
}

// markProcessed is step (1) of the result processor.
func (s *jobStore) markProcessed(id int64, task string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		j.processed[task] = struct{}{}
	}
}

// save is step (2): it stores a result once; a replay changes nothing.
func (s *jobStore) save(id int64, task string, result json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		if _, dup := j.results[task]; !dup {
			j.results[task] = append(json.RawMessage(nil), result...)
		}
	}
}

// markStored is step (3). It reports whether that completed the job (all
// of its total stored while it was STARTED or RETRY); the caller then moves
// it to SUCCESS. A newly stored task is reported to onStored before any
// status change that counts it, so that the history never shows a progress
// ahead of its stored events.
func (s *jobStore) markStored(id int64, task string) (complete bool) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	j, ok := s.jobs[id]
	if !ok {
		s.mu.Unlock()
		return false
	}
	if _, dup := j.stored[task]; dup {
		s.mu.Unlock()
		return false
	}
	j.stored[task] = struct{}{}
	j.storedIDs = append(j.storedIDs, task)
	complete = len(j.storedIDs) >= j.total-s.early && servesTasks(j.status)
	s.mu.Unlock()
	s.onStored(id, task)
	return complete
}
