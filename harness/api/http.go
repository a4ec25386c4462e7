package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/protocol"
)

// maxBody bounds a request body (bytes).
const maxBody = 16 << 20

// unavailableMsg is the error body of every 503 of NATS trouble.
const unavailableMsg = "Task queue temporarily unavailable"

// Auth: every endpoint but the liveness probe (GET /api/v2/) requires
// "Authorization: Token <key>" when Config.Token is set. The probe stays
// open because it must answer without touching anything, as a load
// balancer's health check does.
func (a *API) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/{$}", a.handleRoot)
	mux.HandleFunc("GET /api/v2/jobs/{$}", a.handleListJobs)
	mux.HandleFunc("POST /api/v2/jobs/{$}", a.handleCreateJob)
	mux.HandleFunc("GET /api/v2/jobs/{id}/{$}", a.handleGetJob)
	mux.HandleFunc("POST /api/v2/jobs/{id}/tasks/{$}", a.handleTasks)
	mux.HandleFunc("POST /api/v2/jobs/{id}/result/{$}", a.handleResult)
	mux.HandleFunc("POST /api/v2/jobs/{id}/cancel/{$}", a.handleCancel)
	return mux
}

// middleware counts requests for Close and bounds how many run at once.
func (a *API) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			writeError(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
		a.inflight.Add(1)
		a.mu.Unlock()
		defer a.inflight.Done()
		if pool := a.slots(r); pool != nil {
			select {
			case pool <- struct{}{}:
				defer func() { <-pool }()
			case <-r.Context().Done():
				return
			case <-a.ctx.Done():
				writeError(w, http.StatusServiceUnavailable, "shutting down")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// processKey keys the process an HTTP connection belongs to (Threads > 1).
type processKey struct{}

// connProcess assigns an accepted HTTP connection to a process, round robin.
func (a *API) connProcess(ctx context.Context, _ net.Conn) context.Context {
	if a.procs == nil {
		return ctx
	}
	return context.WithValue(ctx, processKey{}, int(a.next.Add(1)%uint64(len(a.procs))))
}

// slots is the pool a request waits in: its connection's process's
// threads, or the API's one pool (nil: unbounded).
func (a *API) slots(r *http.Request) chan struct{} {
	if a.procs == nil {
		return a.pool
	}
	i, ok := r.Context().Value(processKey{}).(int)
	if !ok { // mounted with Handler: no connection to follow
		i = int(a.next.Add(1) % uint64(len(a.procs)))
	}
	return a.procs[i]
}

// requestContext is the request's context, also canceled by Close.
func (a *API) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(a.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (a *API) authorized(r *http.Request) bool {
	if a.cfg.Token == "" {
		return true
	}
	key, ok := strings.CutPrefix(r.Header.Get(protocol.AuthHeader), protocol.TokenPrefix)
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), []byte(a.cfg.Token)) == 1
}

func (a *API) handleRoot(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"jobs": protocol.APIBase + "/jobs/"})
}

func (a *API) handleListJobs(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		writeError(w, http.StatusUnauthorized, "invalid token")
		return
	}
	q := r.URL.Query()
	idsOnly := truthy(q.Get("ids_only"))
	incomplete := truthy(q.Get("incomplete_only"))
	limit := -1 // every job
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want an integer ≥ 1", v))
			return
		}
		limit = n
	} else if idsOnly {
		limit = 1 // the platform's page of ids: one job per poll
	}
	var slugs map[string]bool
	if v := q.Get("pipeline__slug__in"); v != "" && !a.beh.ignorePipeline {
		slugs = map[string]bool{}
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				slugs[s] = true
			}
		}
	}
	count, results := 0, []any{}
	for _, j := range a.jobs.list() {
		if incomplete && !protocol.Incomplete(j.Status) {
			continue
		}
		if slugs != nil && !slugs[j.Pipeline] {
			continue
		}
		count++
		if limit >= 0 && len(results) >= limit {
			continue
		}
		if idsOnly {
			results = append(results, j.JobRef)
		} else {
			results = append(results, j)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": count, "results": results})
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// JobSpec is what POST /api/v2/jobs/ creates.
type JobSpec struct {
	Name     string // free text
	Pipeline string // pipeline slug; "" = DefaultPipeline
	Total    int    // number of tasks; the job is SUCCESS once Total results are stored; ≥ 1
	StartNow bool   // STARTED at once; else CREATED (and /tasks serves nothing)
	// Dispatch is how the job's tasks reach the workers: protocol.DispatchAsyncAPI
	// ("" too: a NATS stream that workers reserve from through /tasks), or
	// protocol.DispatchSyncAPI / protocol.DispatchInternal, which have no stream: /tasks on
	// such a job is a 400, with no NATS traffic.
	Dispatch string
}

func (a *API) handleCreateJob(w http.ResponseWriter, r *http.Request) {
	var b protocol.CreateJobRequest
	if err := decodeBody(r, &b); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case b.Total == nil || *b.Total < 1:
		writeError(w, http.StatusBadRequest, "total must be an integer ≥ 1")
		return
	case b.DispatchMode != "" && b.DispatchMode != protocol.DispatchAsyncAPI && b.DispatchMode != protocol.DispatchSyncAPI && b.DispatchMode != protocol.DispatchInternal:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("dispatch_mode %q is unknown (async_api, sync_api, internal)", b.DispatchMode))
		return
	}
	if !a.authorized(r) {
		writeError(w, http.StatusUnauthorized, "invalid token")
		return
	}
	spec := JobSpec{Name: b.Name, Pipeline: b.PipelineSlug, Total: *b.Total, StartNow: b.StartNow != nil && *b.StartNow, Dispatch: b.DispatchMode}
	if spec.Pipeline == "" {
		spec.Pipeline = b.Pipeline
	}
	ctx, cancel := a.requestContext(r)
	defer cancel()
	j, err := a.CreateJob(ctx, spec)
	if err != nil {
		a.log.Warn("create job", "err", err)
		writeError(w, http.StatusServiceUnavailable, unavailableMsg)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": j.ID, "status": j.Status})
}

// jobOf resolves the job of the {id} in the path and checks the token, in
// docs/protocol.md's order (unknown job 404, then token 401), answering the
// error itself when it returns false.
func (a *API) jobOf(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if _, ok := a.jobs.status(id); err != nil || !ok {
		writeError(w, http.StatusNotFound, "job not found")
		return 0, false
	}
	if !a.authorized(r) {
		writeError(w, http.StatusUnauthorized, "invalid token")
		return 0, false
	}
	return id, true
}

func (a *API) handleGetJob(w http.ResponseWriter, r *http.Request) {
	id, ok := a.jobOf(w, r)
	if !ok {
		return
	}
	j, _ := a.jobs.get(id)
	writeJSON(w, http.StatusOK, j)
}

// handleTasks is POST /jobs/{id}/tasks/, checked in docs/protocol.md's order:
// bad body 400, unknown job 404, token 401, a job not dispatched through
// the async API 400 and the terminal-job guard (both with no NATS at all),
// missing stream, one pull, NATS trouble 503.
func (a *API) handleTasks(w http.ResponseWriter, r *http.Request) {
	if a.beh.slowLeak {
		a.maybeLeak()
	}
	var b protocol.TasksRequest
	if err := decodeBody(r, &b); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if b.BatchSize < 1 || b.BatchSize > MaxBatch {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("batch_size must be an integer in [1, %d]", MaxBatch))
		return
	}
	id, ok := a.jobOf(w, r)
	if !ok {
		return
	}
	if !a.beh.seenLate {
		a.markSeen(r)
	}
	if d := a.jobs.dispatch(id); d != "" && d != protocol.DispatchAsyncAPI {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("job %d is dispatched %s, not through the async API", id, d))
		return
	}
	if status, _ := a.jobs.status(id); !protocol.ServesTasks(status) && !a.beh.noGuard {
		if a.beh.seenLate {
			a.markSeen(r)
		}
		writeJSON(w, http.StatusOK, protocol.TasksResponse{Tasks: []protocol.Task{}})
		return
	}
	ctx, cancel := a.requestContext(r)
	defer cancel()
	tasks, err := a.reserve(ctx, id, b.BatchSize)
	if err != nil {
		if a.beh.swallowErrors {
			// The bug: the worker is told there is nothing to do.
			a.log.Debug("reserve failed; answering no tasks", "job", id, "err", err)
			writeJSON(w, http.StatusOK, protocol.TasksResponse{Tasks: []protocol.Task{}})
			return
		}
		if a.beh.emptyOnError && !isTimeout(err) {
			// The bug: only a timeout is NATS trouble; a refused or closed
			// connection, or JetStream unavailable, reads as "no tasks".
			a.log.Debug("reserve failed; answering no tasks", "job", id, "err", err)
			writeJSON(w, http.StatusOK, protocol.TasksResponse{Tasks: []protocol.Task{}})
			return
		}
		a.log.Warn("reserve failed", "job", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, unavailableMsg)
		return
	}
	if a.beh.seenLate {
		// The bug: the worker is marked seen only once NATS answered.
		a.markSeen(r)
	}
	writeJSON(w, http.StatusOK, protocol.TasksResponse{Tasks: tasks})
}

// isTimeout says whether err is a NATS or context timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoHeartbeat) || (errors.As(err, &ne) && ne.Timeout())
}

// handleResult is POST /jobs/{id}/result/: every item validated first,
// then all queued for the processor, or none (503).
func (a *API) handleResult(w http.ResponseWriter, r *http.Request) {
	var b protocol.ResultRequest
	if err := decodeBody(r, &b); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if b.Results == nil {
		writeError(w, http.StatusBadRequest, "results must be a list")
		return
	}
	parsed := make([]resultItem, len(b.Results))
	for i, raw := range b.Results {
		it, err := parseResultItem(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("results[%d]: %v", i, err))
			return
		}
		parsed[i] = it
	}
	id, ok := a.jobOf(w, r)
	if !ok {
		return
	}
	if !a.beh.seenLate {
		a.markSeen(r)
	}
	items := make([]item, len(parsed))
	tasks := make([]protocol.QueuedResult, len(parsed))
	for i, p := range parsed {
		items[i] = item{job: id, task: p.task, reply: p.reply, result: p.result}
		tasks[i] = protocol.QueuedResult{ReplySubject: p.reply, Status: "queued", TaskID: p.task}
	}
	if err := a.proc.enqueue(items); err != nil {
		a.log.Warn("queue results", "job", id, "n", len(items), "err", err)
		writeError(w, http.StatusServiceUnavailable, "Result queue temporarily unavailable")
		return
	}
	if a.beh.seenLate {
		a.markSeen(r)
	}
	writeJSON(w, http.StatusOK, protocol.ResultResponse{Status: "accepted", JobID: id, ResultsQueued: len(items), Tasks: tasks})
}

func (a *API) handleCancel(w http.ResponseWriter, r *http.Request) {
	id, ok := a.jobOf(w, r)
	if !ok {
		return
	}
	ctx, cancel := a.requestContext(r)
	defer cancel()
	j, err := a.CancelJob(ctx, id)
	if err != nil {
		a.log.Warn("cancel job", "job", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, unavailableMsg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": j.ID, "status": j.Status})
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON body: %v", err)
	}
	if dec.More() {
		return errors.New("bad JSON body: trailing data")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
