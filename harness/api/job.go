package api

import (
	"encoding/json"
	"sort"
	"sync"

	"github.com/natschaos/natschaos/protocol"
)

// DefaultPipeline is the pipeline slug of a job created without one.
const DefaultPipeline = "default"

type job struct {
	id        int64
	name      string
	pipeline  string
	dispatch  string // protocol.DispatchAsyncAPI, protocol.DispatchSyncAPI or protocol.DispatchInternal
	status    string
	total     int
	processed map[string]struct{}
	results   map[string]json.RawMessage
	stored    map[string]struct{}
	storedIDs []string
}

func (j *job) progress() protocol.Progress {
	return protocol.Progress{Stored: len(j.storedIDs), Total: j.total}
}

func (j *job) snapshot() protocol.Job {
	return protocol.Job{
		JobRef: protocol.JobRef{ID: j.id, Pipeline: j.pipeline}, Name: j.name, Dispatch: j.dispatch, Status: j.status,
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
	onStatus func(id int64, status string, p protocol.Progress)
	onStored func(id int64, task string)
	early    int        // the early-success variant: a job completes this many results before its total
	emitMu   sync.Mutex // keeps status events in the order of the changes
}

func newJobStore(onStatus func(int64, string, protocol.Progress), onStored func(int64, string)) *jobStore {
	return &jobStore{jobs: make(map[int64]*job), onStatus: onStatus, onStored: onStored}
}

// nextID reserves the next job id (Config.FirstJobID, then one more each time).
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

// read is what f reads of job id, under the lock; ok is false (and v the
// zero value) when there is no such job.
func read[T any](s *jobStore, id int64, f func(*job) T) (v T, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return f(j), true
	}
	return v, false
}

func (s *jobStore) get(id int64) (protocol.Job, bool) { return read(s, id, (*job).snapshot) }

// dispatch returns the dispatch mode of job id ("" when unknown).
func (s *jobStore) dispatch(id int64) string {
	d, _ := read(s, id, func(j *job) string { return j.dispatch })
	return d
}

// pipeline returns the pipeline slug of job id ("" when unknown).
func (s *jobStore) pipeline(id int64) string {
	p, _ := read(s, id, func(j *job) string { return j.pipeline })
	return p
}

func (s *jobStore) status(id int64) (string, bool) {
	return read(s, id, func(j *job) string { return j.status })
}

func (s *jobStore) list() []protocol.Job {
	s.mu.Lock()
	out := make([]protocol.Job, 0, len(s.jobs))
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
	complete = len(j.storedIDs) >= j.total-s.early && protocol.ServesTasks(j.status)
	s.mu.Unlock()
	s.onStored(id, task)
	return complete
}
