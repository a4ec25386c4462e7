// Package worker is the harness's simulated GPU workers (docs/protocol.md, "The
// workers"): HTTP-polling clients of the reference API, or of a real one,
// that reserve batches of tasks, "process" them for a configurable time and
// post results. Two presets: "adc" models the platform's worker exactly
// (parallel prefetching fetchers, bounded result posters that abandon stuck
// posts); "basic" is one fetch → process → post loop for fast tests.
//
// A worker records, and never judges: an http event for every call it makes,
// a handout event for every task it received and a result event for every
// result it posted (docs/history.md). It can be crashed at a
// chosen point ([Worker.Crash]) to model a worker dying with tasks in hand.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

// The crash points of [Worker.Crash] (faults.Process.CrashWorker's after).
const (
	// CrashAfterReceive: right after a /tasks response with at least one
	// task was received (and its handouts recorded), before processing.
	CrashAfterReceive = "receive"
	// CrashAfterProcess: after a batch was processed, before its result is posted.
	CrashAfterProcess = "process"
)

var (
	// ErrCrashed is returned by Run when the worker crashed at an armed crash point.
	ErrCrashed = errors.New("worker crashed")
	// ErrRunning is returned by Run when the worker is already running.
	ErrRunning = errors.New("worker already running")
	// ErrBadCrashPoint is returned by Crash for a point other than
	// CrashAfterReceive or CrashAfterProcess.
	ErrBadCrashPoint = errors.New("unknown crash point")
)

// Option tweaks a Worker or a Pool.
type Option func(*options) error

type options struct {
	log          *slog.Logger
	restartAfter time.Duration
	altBatch     int
	pipelines    func(i int) []string
}

// WithLogger sends the worker's diagnostics to l (default: discarded).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("worker: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithRestartAfter makes a [Pool] start a crashed worker again, with the
// same id and config, d after it crashed (as a supervisor would). A lone
// Worker ignores it. Default: a crashed worker stays down.
func WithRestartAfter(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("worker: restart after %v: want > 0", d)
		}
		o.restartAfter = d
		return nil
	}
}

// WithAltBatchSize gives every other worker of a [Pool] (w2, w4, …) the
// batch size n instead of the template's: a workload with two batch sizes,
// so that what grows with the batch size shows (the round-trips check).
func WithAltBatchSize(n int) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("worker: alternate batch size %d: want > 0", n)
		}
		o.altBatch = n
		return nil
	}
}

// WithPipelinesOf gives worker i of a [Pool] (0-based: w1 is 0) the
// pipelines of(i) instead of the template's PipelineSlugs: worker groups
// that each serve a subset of the pipelines. A lone Worker ignores it.
func WithPipelinesOf(of func(i int) []string) Option {
	return func(o *options) error {
		if of == nil {
			return errors.New("worker: nil pipelines function")
		}
		o.pipelines = of
		return nil
	}
}

func buildOptions(opts []Option) (options, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// Stats are a worker's counters since it was created. A result is counted
// once per POST it was part of.
type Stats struct {
	JobsCalls     int64 // GET /jobs/ attempts
	TasksCalls    int64 // POST /tasks/ calls
	TasksReceived int64 // tasks received in /tasks answers
	ResultPosts   int64 // POST /result/ calls
	ResultsPosted int64 // results in POSTs answered 2xx
	ResultsFailed int64 // results in POSTs that got no answer or a non-2xx one
	Abandoned     int64 // results dropped, never posted, by the adc poster's abandonment
	Crashes       int64 // times the worker crashed at an armed point
}

func (s *Stats) add(o Stats) {
	s.JobsCalls += o.JobsCalls
	s.TasksCalls += o.TasksCalls
	s.TasksReceived += o.TasksReceived
	s.ResultPosts += o.ResultPosts
	s.ResultsPosted += o.ResultsPosted
	s.ResultsFailed += o.ResultsFailed
	s.Abandoned += o.Abandoned
	s.Crashes += o.Crashes
}

type counters struct {
	jobsCalls, tasksCalls, tasksReceived, resultPosts, resultsPosted, resultsFailed, abandoned, crashes atomic.Int64
}

// Worker is one simulated GPU worker. Create it with [New], drive it with
// [Worker.Run]; it holds no resources between runs, so there is nothing to
// Close. Its methods are safe for concurrent use.
type Worker struct {
	cfg  Config
	sink history.Sink
	log  *slog.Logger

	c counters

	mu      sync.Mutex
	running bool
	armed   string                  // crash point armed by Crash, "" when none
	cancel  context.CancelCauseFunc // of the current run; nil when not running
}

// New validates cfg (zero fields take docs/protocol.md's defaults) and returns a
// Worker that emits its events into sink.
func New(cfg Config, sink history.Sink, opts ...Option) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("worker: nil sink")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Worker{cfg: cfg, sink: sink, log: o.log.With("worker", cfg.ID)}, nil
}

// ID is the worker's id, as in its events.
func (w *Worker) ID() string { return w.cfg.ID }

// Config is the worker's configuration with the defaults filled in.
func (w *Worker) Config() Config { return w.cfg }

// Stats returns a snapshot of the worker's counters.
func (w *Worker) Stats() Stats {
	return Stats{
		JobsCalls:     w.c.jobsCalls.Load(),
		TasksCalls:    w.c.tasksCalls.Load(),
		TasksReceived: w.c.tasksReceived.Load(),
		ResultPosts:   w.c.resultPosts.Load(),
		ResultsPosted: w.c.resultsPosted.Load(),
		ResultsFailed: w.c.resultsFailed.Load(),
		Abandoned:     w.c.abandoned.Load(),
		Crashes:       w.c.crashes.Load(),
	}
}

// Crash arms a one-shot crash: at its next crash point after (one of
// CrashAfterReceive, CrashAfterProcess) the worker stops dead — every call
// in flight is cut, nothing it holds is posted — and Run returns
// ErrCrashed. A later Crash replaces an armed one that has not fired.
func (w *Worker) Crash(after string) error {
	if after != CrashAfterReceive && after != CrashAfterProcess {
		return fmt.Errorf("crash worker %s after %q: %w", w.cfg.ID, after, ErrBadCrashPoint)
	}
	w.mu.Lock()
	w.armed = after
	w.mu.Unlock()
	return nil
}

// State reports whether Run is in progress, and the crash point armed and
// not yet fired ("" when none).
func (w *Worker) State() (running bool, armed string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running, w.armed
}

// crashAt fires the armed crash when it is armed for point; the caller must
// then return. It reports whether the worker crashed.
func (w *Worker) crashAt(point string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed != point || w.cancel == nil {
		return false
	}
	w.armed = ""
	w.log.Info("crash", "after", point)
	w.cancel(ErrCrashed)
	return true
}

// Run works until ctx is done (it then returns nil) or the worker crashes
// (ErrCrashed). Calls in flight when ctx ends are cut and recorded with err
// "canceled". Run may be called again after it returned; never twice at once.
func (w *Worker) Run(ctx context.Context) error {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return fmt.Errorf("run worker %s: %w", w.cfg.ID, ErrRunning)
	}
	w.running, w.cancel = true, cancel
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running, w.cancel = false, nil
		w.mu.Unlock()
	}()

	r := &run{w: w, cfg: w.cfg, cl: newClient(w.cfg)}
	defer r.cl.close()
	if w.cfg.Preset == PresetBasic {
		r.basic(rctx)
	} else {
		r.adc(rctx)
	}
	r.wg.Wait() // posts abandoned while in flight end by their own timeout or rctx
	if errors.Is(context.Cause(rctx), ErrCrashed) {
		w.c.crashes.Add(1)
		return ErrCrashed
	}
	return nil
}

// run is the state of one Run.
type run struct {
	w   *Worker
	cfg Config
	cl  *client
	wg  sync.WaitGroup // every goroutine of the run that may outlive a job
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (r *run) emitHTTP(c call, batch, n int) {
	r.w.sink.Emit(r.httpEvent(c, batch, n))
}

func (r *run) httpEvent(c call, batch, n int) history.Event {
	return history.Event{
		Kind:   history.KindHTTP,
		Worker: r.cfg.ID,
		Path:   c.path,
		Status: c.status,
		MS:     c.ms,
		Err:    c.errTag,
		Batch:  batch,
		N:      n,
	}
}

// listJobs asks for the incomplete jobs, retrying at once on a 5xx up to
// JobsRetries times, and keeps those of the job filter (Config.Jobs) when
// there is one. ok is false when no attempt got a 2xx answer.
func (r *run) listJobs(ctx context.Context) (jobs []protocol.JobRef, ok bool) {
	for attempt := 0; attempt <= r.cfg.JobsRetries && ctx.Err() == nil; attempt++ {
		r.w.c.jobsCalls.Add(1)
		c := r.cl.do(ctx, "GET", jobsURL(r.cfg), nil, r.cfg.JobsTimeout)
		var resp protocol.JobsResponse
		if c.ok() {
			if err := jsonDecode(c.body, &resp); err != nil {
				c.err, c.errTag = err, "decode"
			}
		}
		r.emitHTTP(c, 0, len(resp.Results))
		if c.ok() {
			return r.keep(resp.Results), true
		}
		r.w.log.Debug("list jobs", "status", c.status, "err", c.err)
		if c.err != nil || c.status < 500 {
			return nil, false
		}
	}
	return nil, false
}

// keep is the jobs of the job filter (Config.Jobs and Config.JobFilter)
// among jobs (all of them without a filter).
func (r *run) keep(jobs []protocol.JobRef) []protocol.JobRef {
	if len(r.cfg.Jobs) == 0 && r.cfg.JobFilter == nil {
		return jobs
	}
	out := jobs[:0]
	for _, j := range jobs {
		if (len(r.cfg.Jobs) == 0 || slices.Contains(r.cfg.Jobs, j.ID)) && (r.cfg.JobFilter == nil || r.cfg.JobFilter(j.ID)) {
			out = append(out, j)
		}
	}
	return out
}

// fetch makes one /tasks call for j and records it and its handouts. ok is
// false when the call failed (no answer, non-2xx, bad body): a fetcher stops.
func (r *run) fetch(ctx context.Context, j protocol.JobRef) (tasks []protocol.Task, ok bool) {
	r.w.c.tasksCalls.Add(1)
	c := r.cl.do(ctx, "POST", tasksURL(r.cfg, j.ID), protocol.TasksRequest{BatchSize: r.cfg.BatchSize}, r.cfg.HTTPTimeout)
	var resp protocol.TasksResponse
	if c.ok() {
		if err := jsonDecode(c.body, &resp); err != nil {
			c.err, c.errTag = err, "decode"
		}
	}
	call := r.httpEvent(c, r.cfg.BatchSize, len(resp.Tasks))
	call.Pipelines = strings.Join(r.cfg.PipelineSlugs, ",") // what the job list was asked for
	r.w.sink.Emit(call)
	if !c.ok() {
		r.w.log.Debug("tasks", "job", j.ID, "status", c.status, "err", c.err)
		return nil, false
	}
	r.w.c.tasksReceived.Add(int64(len(resp.Tasks)))
	for _, t := range resp.Tasks {
		e := history.Event{Kind: history.KindHandout, Task: t.Image(), Reply: t.Reply(), Worker: r.cfg.ID, MS: call.MS}
		if m, err := ackreply.Parse(t.Reply()); err == nil {
			e.SSeq, e.DSeq, e.DC = m.SSeq, m.DSeq, m.Delivered
		} else {
			r.w.log.Warn("handout with a bad reply subject", "task", e.Task, "err", err)
		}
		r.w.sink.Emit(e)
	}
	return resp.Tasks, true
}

// download simulates fetching the batch's images, DownloadThreads at a time.
func (r *run) download(ctx context.Context, n int) bool {
	rounds := (n + r.cfg.DownloadThreads - 1) / r.cfg.DownloadThreads
	return sleep(ctx, time.Duration(rounds)*r.cfg.DownloadTime)
}

// process simulates the model on a batch and returns the result body; ok is
// false when ctx ended first.
func (r *run) process(ctx context.Context, j protocol.JobRef, tasks []protocol.Task) (req resultRequest, ok bool) {
	start := time.Now()
	if !sleep(ctx, time.Duration(len(tasks))*r.cfg.ProcessTime) {
		return req, false
	}
	pipeline := j.Pipeline
	if pipeline == "" && len(r.cfg.PipelineSlugs) > 0 {
		pipeline = r.cfg.PipelineSlugs[0]
	}
	perImage := time.Since(start).Seconds() / float64(max(len(tasks), 1))
	for _, t := range tasks {
		if t.Reply() == "" {
			r.w.log.Warn("task without a reply subject: no result posted", "task", t.Image())
			continue
		}
		result, err := protocol.SuccessResult(pipeline, t.Image(), t.ImageURL, perImage)
		if err != nil {
			r.w.log.Warn("no result posted", "task", t.Image(), "err", err)
			continue
		}
		req.Results = append(req.Results, protocol.ResultItem{ReplySubject: t.ReplySubject, Result: result})
		req.tasks = append(req.tasks, t.Image())
	}
	return req, true
}

// post makes one result POST and records it and a result event per item.
func (r *run) post(ctx context.Context, jobID int64, req resultRequest) {
	if len(req.Results) == 0 {
		return
	}
	r.w.c.resultPosts.Add(1)
	c := r.cl.do(ctx, "POST", resultURL(r.cfg, jobID), req, r.cfg.ResultTimeout)
	n := int64(len(req.Results))
	if c.ok() {
		r.w.c.resultsPosted.Add(n)
	} else {
		r.w.c.resultsFailed.Add(n)
		r.w.log.Debug("result", "job", jobID, "status", c.status, "err", c.err)
	}
	r.emitHTTP(c, 0, len(req.Results))
	for i, it := range req.Results {
		r.w.sink.Emit(history.Event{
			Kind:   history.KindResult,
			Task:   req.tasks[i],
			Reply:  *it.ReplySubject,
			Worker: r.cfg.ID,
			Status: c.status,
		})
	}
}
