// Package api is the reference API of docs/protocol.md: the HTTP job-dispatch
// API that serves a JetStream work queue to polling workers, with its
// background result processor, and every known-bad variant of it (see
// [Variants]). It speaks to NATS through [Config.NATSURL] (the api-nats
// link) and acks results through [Config.ResultsNATSURL] (the results-nats
// link), and emits reserve, stored and job events into a history sink.
//
// Auth: when [Config.Token] is set, every endpoint but the liveness probe
// GET /api/v2/ requires "Authorization: Token <key>"; the probe stays open,
// like a load balancer's health check, so that it never depends on anything.
// protocol.Job endpoints check in docs/protocol.md's order: bad body 400, unknown job 404,
// then token 401.
//
// Connections: request handlers open one NATS connection per request that
// needs NATS (POST /jobs/, /tasks, /cancel) and close it when the request
// ends (the pooled variants share a bounded pool instead, see pool.go); the result processor keeps one connection of its own to
// ResultsNATSURL, re-opened after any error, for acks and for deleting a
// finished job's consumer and stream. [API.Stats] counts them.
//
// Start one with [New], serve it with [API.Serve] or mount [API.Handler],
// and Close it.
package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// Defaults of [Config], the production values of docs/protocol.md.
const (
	DefaultConnectTimeout   = 5 * time.Second
	DefaultOpTimeout        = 10 * time.Second
	DefaultFetchWait        = 500 * time.Millisecond
	DefaultAckWait          = 300 * time.Second
	DefaultMaxDeliver       = 2
	DefaultMaxAckPending    = 1000
	DefaultProcessorWorkers = 4
	DefaultQueueSize        = 100000
)

// MaxBatch is the largest batch_size /tasks accepts; larger is a 400.
const MaxBatch = 10000

// Config is the configuration of an [API], passed by value. Zero fields take
// the defaults above; durations are wall-clock time.
type Config struct {
	// NATSURL is the NATS URL of the request handlers (the harness points it
	// at the api-nats proxy). Required.
	NATSURL string
	// ResultsNATSURL is the NATS URL of the result processor (the
	// results-nats proxy). Default NATSURL.
	ResultsNATSURL string
	// Token is the API key of the "Authorization: Token <key>" header; ""
	// disables auth.
	Token string
	// Variant selects the behaviour (see Variants); "" means "good".
	Variant string

	// ConnectTimeout bounds a NATS connect (default 5s).
	ConnectTimeout time.Duration
	// OpTimeout bounds every JetStream metadata call and publish (default 10s).
	OpTimeout time.Duration
	// FetchWait is how long one pull waits for messages (default 500ms).
	FetchWait time.Duration
	// AckWait is the consumer's ack_wait, TASK_TTR (default 300s).
	AckWait time.Duration
	// MaxDeliver is the consumer's max_deliver (default 2).
	MaxDeliver int
	// MaxAckPending is the consumer's max_ack_pending (default 1000).
	MaxAckPending int
	// Replicas is the replica count of the job's stream and consumer and of
	// the advisories stream (default 1; 3 on a three-node cluster).
	Replicas int
	// FirstJobID is the id of the API's first job; the next ones follow it
	// (default 1). The platform's ids come from a database that has seen
	// many jobs: the embedded stack starts high, so that an id is several
	// digits wherever it is written or parsed (subjects, stream names,
	// paths).
	FirstJobID int64

	// MaxConcurrent bounds the requests handled at once, like a pool of
	// gunicorn workers; requests beyond it wait for a slot. The liveness
	// probe goes through the same pool. 0 = unbounded.
	MaxConcurrent int
	// Processes and Threads run the API as the platform runs its web
	// server: Processes worker processes of Threads request threads each.
	// With Threads = 1 (sync workers: one request at a time per process,
	// no keep-alive) any idle process takes the next request, so they are
	// one pool of Processes slots. With Threads > 1 each HTTP connection
	// belongs to one process (assigned round robin when it is accepted)
	// and its requests wait for that process's threads. The liveness
	// probe goes through them too. 0 = unbounded (or MaxConcurrent);
	// Threads defaults to 1; setting both Processes and MaxConcurrent is
	// an error.
	Processes int
	Threads   int
	// ProcessorWorkers is the result processor's concurrency (default 4).
	ProcessorWorkers int
	// QueueSize bounds the results waiting for the processor; a /result
	// that does not fit answers 503 (default 100000).
	QueueSize int

	// Sink receives reserve, stored and job events (nil = history.Discard).
	Sink history.Sink
	// Logger receives diagnostics (nil = discard).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.ResultsNATSURL == "" {
		c.ResultsNATSURL = c.NATSURL
	}
	if c.Variant == "" {
		c.Variant = protocol.VariantGood
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ConnectTimeout, DefaultConnectTimeout)
	def(&c.OpTimeout, DefaultOpTimeout)
	def(&c.FetchWait, DefaultFetchWait)
	def(&c.AckWait, DefaultAckWait)
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.FirstJobID == 0 {
		c.FirstJobID = 1
	}
	if c.ProcessorWorkers == 0 {
		c.ProcessorWorkers = DefaultProcessorWorkers
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Sink == nil {
		c.Sink = history.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	if c.NATSURL == "" {
		return errors.New("api: NATSURL is required")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ConnectTimeout", c.ConnectTimeout}, {"OpTimeout", c.OpTimeout},
		{"FetchWait", c.FetchWait}, {"AckWait", c.AckWait},
	} {
		if d.v < 0 {
			return fmt.Errorf("api: %s %s is negative", d.name, d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"MaxDeliver", c.MaxDeliver}, {"MaxAckPending", c.MaxAckPending}, {"Replicas", c.Replicas},
		{"MaxConcurrent", c.MaxConcurrent}, {"ProcessorWorkers", c.ProcessorWorkers},
		{"QueueSize", c.QueueSize}, {"Processes", c.Processes}, {"Threads", c.Threads},
	} {
		if n.v < 0 {
			return fmt.Errorf("api: %s %d is negative", n.name, n.v)
		}
	}
	if c.FirstJobID < 0 {
		return fmt.Errorf("api: FirstJobID %d is negative", c.FirstJobID)
	}
	if c.Processes > 0 && c.MaxConcurrent > 0 {
		return errors.New("api: set either Processes (with Threads) or MaxConcurrent, not both")
	}
	if c.Threads > 0 && c.Processes == 0 {
		return errors.New("api: Threads needs Processes")
	}
	return nil
}

// API is a running reference API. It holds the job state in memory. The
// caller must Close it.
type API struct {
	cfg     Config
	beh     behaviour
	log     *slog.Logger
	sink    history.Sink
	handler http.Handler

	ctx    context.Context // canceled by Close: aborts every NATS operation
	cancel context.CancelFunc

	jobs  *jobStore
	seen  seenBook
	ends  streamEnds // pulls told their job's stream is gone
	proc  *processor
	owner string // random mark of this process's streams (see CreateJob)

	pool  chan struct{}   // request slots; nil = unbounded
	procs []chan struct{} // Threads slots per process (Threads > 1); nil = see pool
	next  atomic.Uint64   // round robin over procs
	cpool *connPool       // the pooled variants' NATS connections; nil = one per request

	mu       sync.Mutex
	closed   bool
	servers  []*http.Server
	conns    map[*nats.Conn]struct{} // every connection not closed by the API
	inflight sync.WaitGroup          // requests being handled
	once     sync.Once

	requestConns   atomic.Uint64
	processorConns atomic.Uint64
	dials          atomic.Uint64
	connectErrors  atomic.Uint64

	leak slowLeak // the slow-leak variant's state
}

// New validates cfg, applies its defaults and starts the result processor.
// It opens no NATS connection: handlers connect per request. The caller
// must Close the API.
func New(cfg Config) (*API, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	beh, err := lookupVariant(cfg.Variant)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &API{
		cfg:    cfg,
		beh:    beh,
		log:    cfg.Logger.With("component", "api", "variant", cfg.Variant),
		sink:   cfg.Sink,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*nats.Conn]struct{}),
	}
	a.jobs = newJobStore(a.emitJob, a.emitStored)
	a.jobs.next = cfg.FirstJobID - 1
	if a.beh.earlySuccess {
		a.jobs.early = 1
	}
	a.owner = rand.Text()
	switch {
	case cfg.MaxConcurrent > 0:
		a.pool = make(chan struct{}, cfg.MaxConcurrent)
	case cfg.Processes > 0 && cfg.Threads <= 1:
		a.pool = make(chan struct{}, cfg.Processes) // sync workers share the accept queue
	case cfg.Processes > 0:
		a.procs = make([]chan struct{}, cfg.Processes)
		for i := range a.procs {
			a.procs[i] = make(chan struct{}, cfg.Threads)
		}
	}
	if beh.pooled {
		a.cpool = newConnPool(a)
	}
	a.handler = a.middleware(a.routes())
	a.proc = newProcessor(a)
	return a, nil
}

// Config returns the API's configuration with its defaults applied.
func (a *API) Config() Config { return a.cfg }

// Handler is the HTTP handler of the API (base path /api/v2/). Requests
// through it are counted by Close, which waits for them.
func (a *API) Handler() http.Handler { return a.handler }

// ErrClosed is returned by Serve on a closed API.
var ErrClosed = errors.New("api: closed")

// Serve answers HTTP requests on ln until Close; it closes ln. It returns
// nil after Close, or the error that stopped serving.
func (a *API) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ConnContext:       a.connProcess,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		_ = ln.Close()
		return ErrClosed
	}
	a.servers = append(a.servers, srv)
	a.mu.Unlock()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// Close stops serving, aborts every NATS operation in progress, stops the
// result processor (results still queued are dropped: their messages stay
// un-acked and NATS redelivers them), waits for the requests in progress and
// closes every NATS connection the API opened, leaked ones included. It is
// safe to call more than once.
func (a *API) Close() {
	a.once.Do(func() {
		a.mu.Lock()
		a.closed = true
		servers := a.servers
		a.mu.Unlock()
		a.cancel()
		for _, s := range servers {
			_ = s.Close() // closes listeners and connections; handlers see ctx canceled
		}
		a.proc.close()
		a.inflight.Wait()
		a.mu.Lock()
		conns := make([]*nats.Conn, 0, len(a.conns))
		for nc := range a.conns {
			conns = append(conns, nc)
		}
		a.conns = map[*nats.Conn]struct{}{}
		a.mu.Unlock()
		for _, nc := range conns {
			nc.Close()
		}
	})
}

// Stats are counters of the NATS connections of an [API], for tests and
// diagnostics.
type Stats struct {
	// RequestConns counts the NATS connections request handlers opened
	// (successful connects).
	RequestConns uint64
	// ProcessorConns counts the connections the result processor opened.
	ProcessorConns uint64
	// Dials counts TCP dials to NATS, reconnect attempts included.
	Dials uint64
	// ConnectErrors counts connects that failed.
	ConnectErrors uint64
	// Open is the number of connections the API opened and has not closed,
	// leaked ones included.
	Open int
}

// Stats returns the connection counters.
func (a *API) Stats() Stats {
	a.mu.Lock()
	open := 0
	for nc := range a.conns {
		if !nc.IsClosed() {
			open++
		}
	}
	a.mu.Unlock()
	return Stats{
		RequestConns:   a.requestConns.Load(),
		ProcessorConns: a.processorConns.Load(),
		Dials:          a.dials.Load(),
		ConnectErrors:  a.connectErrors.Load(),
		Open:           open,
	}
}

func (a *API) emit(e history.Event) { a.sink.Emit(e) }

func (a *API) emitStored(_ int64, task string) {
	a.emit(history.Event{Kind: history.KindStored, Task: task})
}

func (a *API) emitJob(id int64, status string, p protocol.Progress) {
	a.emit(history.Event{Kind: history.KindJob, Job: id, JobStatus: status, ProgressStored: p.Stored, ProgressTotal: p.Total, Pipeline: a.jobs.pipeline(id)})
}
