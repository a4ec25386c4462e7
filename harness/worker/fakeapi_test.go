package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/natschaos/natschaos/harness/api/apitest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/apicall"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hook may take over one request of the fake API: kind is "jobs", "tasks" or
// "result", call counts the calls of that kind from 1. It returns true when
// it answered.
type hook func(w http.ResponseWriter, r *http.Request, kind string, call int) bool

// fakeAPI is docs/protocol.md's HTTP API over an in-memory queue: no NATS, no
// redelivery, every delivery has dc 1.
type fakeAPI struct {
	srv  *httptest.Server
	hook hook

	mu         sync.Mutex
	jobs       map[int64]*fakeJob
	calls      map[string]int
	badHeaders []string
	posts      map[string]int // reply subject → result items received
}

type fakeJob struct {
	id     int64
	slug   string
	queue  []protocol.Task
	sseq   uint64
	stored map[string]bool // image ids
	total  int
}

func newFakeAPI(t testing.TB, h hook) *fakeAPI {
	t.Helper()
	f := &fakeAPI{hook: h, jobs: map[int64]*fakeJob{}, calls: map[string]int{}, posts: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) base() string { return f.srv.URL + "/api/v2" }

// addJob adds a STARTED job holding n tasks.
func (f *fakeAPI) addJob(id int64, slug string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := &fakeJob{id: id, slug: slug, stored: map[string]bool{}, total: n}
	for i := range n {
		img := fmt.Sprintf("img-%d-%d", id, i)
		j.queue = append(j.queue, protocol.Task{ID: protocol.ID(img), ImageID: protocol.ID(img), ImageURL: "http://images/" + img})
	}
	f.jobs[id] = j
}

func (f *fakeAPI) stored(id int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs[id].stored)
}

func (f *fakeAPI) queued(id int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs[id].queue)
}

func (f *fakeAPI) callsOf(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[kind]
}

func (f *fakeAPI) postsOf() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.posts))
	for k, v := range f.posts {
		m[k] = v
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api/v2")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	kind := ""
	switch {
	case r.Method == http.MethodGet && path == "/jobs/":
		kind = "jobs"
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "jobs" && parts[2] == "tasks":
		kind = "tasks"
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "jobs" && parts[2] == "result":
		kind = "result"
	default:
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.calls[kind]++
	call := f.calls[kind]
	if r.Header.Get(protocol.WorkerHeader) == "" || r.Header.Get(protocol.AuthHeader) != apicall.Auth(apitest.Token) {
		f.badHeaders = append(f.badHeaders, r.Method+" "+r.URL.Path)
	}
	f.mu.Unlock()
	if f.hook != nil && f.hook(w, r, kind, call) {
		return
	}
	switch kind {
	case "jobs":
		f.listJobs(w, r)
	case "tasks":
		jobCall(f, w, r, parts[1], func(req protocol.TasksRequest) bool { return req.BatchSize >= 1 }, f.reserve)
	case "result":
		jobCall(f, w, r, parts[1], func(req protocol.ResultRequest) bool { return len(req.Results) > 0 }, f.result)
	}
}

func (f *fakeAPI) job(w http.ResponseWriter, id string) *fakeJob {
	n, err := strconv.ParseInt(id, 10, 64)
	if j := f.jobs[n]; err == nil && j != nil {
		return j
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such job"})
	return nil
}

func (f *fakeAPI) listJobs(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("ids_only") != "1" || r.URL.Query().Get("incomplete_only") != "1" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want ids_only and incomplete_only"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := protocol.JobsResponse{Results: []protocol.JobRef{}}
	for id := int64(1); id <= int64(len(f.jobs)); id++ {
		if j := f.jobs[id]; j != nil && len(j.stored) < j.total {
			resp.Results = append(resp.Results, protocol.JobRef{ID: j.id, Pipeline: j.slug})
		}
	}
	resp.Count = len(resp.Results)
	writeJSON(w, http.StatusOK, resp)
}

// jobCall answers a POST on job id: its body, decoded into a T, answered
// 400 unless it decodes and valid holds; the job, looked up under f.mu,
// answered 404 when unknown; then do, still under f.mu.
func jobCall[T any](f *fakeAPI, w http.ResponseWriter, r *http.Request, id string, valid func(T) bool, do func(http.ResponseWriter, *fakeJob, T)) {
	var req T
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !valid(req) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad body"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if j := f.job(w, id); j != nil {
		do(w, j, req)
	}
}

func (f *fakeAPI) reserve(w http.ResponseWriter, j *fakeJob, req protocol.TasksRequest) {
	n := min(req.BatchSize, len(j.queue))
	out := append([]protocol.Task{}, j.queue[:n]...)
	j.queue = j.queue[n:]
	for i := range out {
		j.sseq++
		reply := fmt.Sprintf("$JS.ACK.job_%d.job-%d-consumer.1.%d.%d.%d.%d",
			j.id, j.id, j.sseq, j.sseq, time.Now().UnixNano(), len(j.queue))
		out[i].ReplySubject = &reply
	}
	writeJSON(w, http.StatusOK, protocol.TasksResponse{Tasks: out})
}

func (f *fakeAPI) result(w http.ResponseWriter, j *fakeJob, req protocol.ResultRequest) {
	stored := make([]string, len(req.Results))
	for i, it := range req.Results {
		var res protocol.Result
		if it.ReplySubject == nil || *it.ReplySubject == "" || json.Unmarshal(it.Result, &res) != nil ||
			res.Pipeline == nil || *res.Pipeline == "" || len(res.SourceImages) != 1 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad item"})
			return
		}
		stored[i], _ = protocol.IDString(res.SourceImages[0].ID)
	}
	for i, it := range req.Results {
		f.posts[*it.ReplySubject]++
		j.stored[stored[i]] = true
	}
	writeJSON(w, http.StatusOK, protocol.ResultResponse{Status: "accepted", JobID: j.id, ResultsQueued: len(req.Results)})
}

// block holds a request until release is closed or the client goes away (at
// most 10 s). It reads the body first: only then does the server notice a
// client hanging up.
func block(r *http.Request, release <-chan struct{}) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	select {
	case <-r.Context().Done():
	case <-release:
	case <-time.After(10 * time.Second):
	}
}

// hangUp closes the request's connection without answering; reset chooses
// an RST over a FIN.
func hangUp(t testing.TB, w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// sink keeps every event in memory, stamped like the Recorder does.
type sink struct{ *history.Memory }

func newSink() *sink { return &sink{history.NewMemory()} }

// of returns the events of kind, and for http events only those whose path
// ends with suffix ("" for all).
func (s *sink) of(kind history.Kind, suffix string) []history.Event {
	var out []history.Event
	for _, e := range s.Of(kind) {
		if strings.HasSuffix(e.Path, suffix) {
			out = append(out, e)
		}
	}
	return out
}

func (s *sink) all() []history.Event { return s.Events() }

// waitFor polls cond every 5 ms until it holds, failing after total with what.
func waitFor(t testing.TB, total time.Duration, what string, cond func() bool) {
	t.Helper()
	polltest.CheckFor(t, total, 5*time.Millisecond, func() error {
		if !cond() {
			return errors.New("never " + what)
		}
		return nil
	})
}

// testConfig is a small, fast worker against base: the defaults, with
// every timeout, pause and pool scaled down.
func testConfig(base, preset string) Config {
	c := DefaultConfig(base, "w1")
	c.Token, c.Preset, c.BatchSize = apitest.Token, preset, 5
	c.HTTPTimeout, c.ResultTimeout, c.IdleSleep = time.Second, 2*time.Second, 50*time.Millisecond
	c.Fetchers, c.Prefetch, c.DownloadThreads = 2, 2, 4
	c.MaxPendingPosts, c.AbandonAfter, c.ProcessTime = 3, 500*time.Millisecond, 100*time.Microsecond
	return c
}

// running is a Run in a goroutine: stop cancels it and returns its error.
type running struct {
	cancel context.CancelFunc
	done   chan error
	err    error
	once   sync.Once
}

func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of cancel")
		}
	})
	return r.err
}

// exited waits for Run to return on its own and returns its error.
func (r *running) exited(t testing.TB, total time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.once.Do(func() { r.cancel(); r.err = err })
		return err
	case <-time.After(total):
		t.Fatalf("Run did not return within %v", total)
		return nil
	}
}

func start(t testing.TB, run func(context.Context) error) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx) }()
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

// runWorker starts a worker of cfg that records into a new sink; it stops
// when the test ends.
func runWorker(t testing.TB, cfg Config) (*Worker, *sink, *running) {
	t.Helper()
	s := newSink()
	w := newWorker(t, cfg, s)
	return w, s, start(t, w.Run)
}

func newWorker(t testing.TB, cfg Config, s history.Sink) *Worker {
	t.Helper()
	w, err := New(cfg, s)
	require.NoError(t, err)
	return w
}
