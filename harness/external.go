package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/chaos/history"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/observe"
	"github.com/natschaos/natschaos/harness/worker"
)

// NATSAuth are the credentials of the harness's own NATS connections (the
// observer, the publisher) to an external NATS. At most one of a user, a
// token and a creds file. They are never printed, logged or recorded.
type NATSAuth struct {
	User      string
	Password  string
	Token     string
	CredsFile string
}

// options are the nats.go options of a.
func (a NATSAuth) options() ([]nats.Option, error) {
	n := 0
	for _, set := range []bool{a.User != "", a.Token != "", a.CredsFile != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, errors.New("nats credentials: give a user and password, a token or a creds file, not several")
	case a.Password != "" && a.User == "":
		return nil, errors.New("nats credentials: a password needs a user")
	case a.User != "":
		return []nats.Option{nats.UserInfo(a.User, a.Password)}, nil
	case a.Token != "":
		return []nats.Option{nats.Token(a.Token)}, nil
	case a.CredsFile != "":
		return []nats.Option{nats.UserCredentials(a.CredsFile)}, nil
	}
	return nil, nil
}

// DefaultReadyTimeout bounds external mode's waits for the system under
// test: the API answering, its consumer appearing, traffic on the proxies.
const DefaultReadyTimeout = 60 * time.Second

// DefaultMonitorPort is nats-server's usual monitoring port: without
// MonitorURLs, external mode looks for it on the host of each NATS URL.
const DefaultMonitorPort = "8222"

// DefaultStoredEvery is how often external mode reads back which results
// the API holds (GET /jobs/{id}/ stored_ids) and the job's status during a
// run.
const DefaultStoredEvery = 100 * time.Millisecond

// ExternalConfig describes an external target: a NATS (or cluster) and an
// API that already run. Zero values take the defaults of the packages they
// configure.
type ExternalConfig struct {
	// NATSURLs are the client URLs of the real NATS, one per node (at
	// least one). The api-nats and results-nats proxies forward to the first.
	NATSURLs []string
	// MonitorURLs are the monitoring URLs (http://host:8222), one per node
	// in the order of NATSURLs; empty means port DefaultMonitorPort on the
	// host of each NATS URL.
	MonitorURLs []string
	// APIURL is the API's address, "http://host:8000" (a trailing /api/v2
	// is accepted). Required.
	APIURL string
	// APIToken is the API key ("Authorization: Token <key>"); never printed.
	APIToken string
	// NATS are the credentials of the harness's own NATS connections.
	NATS NATSAuth
	// JobID is an existing job to drive; 0 creates one through the API.
	// The run never cancels a job it did not create.
	JobID int64
	// PublishIntoJob allows publishing the run's made-up tasks into JobID,
	// a job the run did not create (said on Err). Without it, a JobID
	// needs ObservePublishes.
	PublishIntoJob bool
	// ExternalWorkers says that the platform's own workers poll the API
	// through the worker-api proxy: no built-in worker runs, and the
	// recording proxy records handouts, results and calls for them.
	ExternalWorkers bool
	// ObservePublishes records the API's own task publishes (observed on
	// job.*.tasks) instead of publishing the tasks.
	ObservePublishes bool
	// Listen fixes the listen address of a link's proxy (api-nats,
	// results-nats, worker-api); others listen on 127.0.0.1:0.
	Listen map[string]string
	// Worker is the template of every built-in worker.
	Worker worker.Config
	// Workers is how many built-in workers run (default 1).
	Workers int
	// AltBatchSize, when > 0, is the batch size of every other built-in
	// worker (w2, w4, …).
	AltBatchSize int
	// ConnectTimeout is the API's NATS connect timeout as the config event
	// states it: an external API does not say, so the scenario's value is
	// taken as the API's.
	ConnectTimeout time.Duration
	// SampleEvery, ProbeEvery, StoredEvery: periods of the sampler, the
	// liveness prober and the read-back of stored results.
	SampleEvery, ProbeEvery, StoredEvery time.Duration
	// ReadyTimeout bounds each wait for the system under test (default
	// DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// Proxies is the Toxiproxy to use; nil starts one embedded.
	Proxies faults.Proxies
	// Out receives the lines that ask something of the user (the addresses
	// to point the system under test at, what the harness waits for).
	Out io.Writer
	// Err receives what the run did to the system under test beyond its
	// own job's work: publishing into a job it did not create, cancelling
	// the job it created on the way out (default: Out).
	Err io.Writer
	// Clock is the run's clock, seconds since its start (for a Recorder,
	// its Since): it stamps the events held until the config is known.
	Clock func() float64
	// Seed seeds the Rand handed to faults.
	Seed int64
	// Logger receives the harness's own log lines; nil is silent.
	Logger *slog.Logger
	// Soak, when not nil, makes this a soak's target (external_soak.go):
	// jobs are created with NewSoakJob, the observers see every job and
	// only the events of Soak's jobs reach the history, the workers serve
	// Soak's jobs only.
	Soak *SoakJobs
}

// External is a target that already runs, put behind the harness's proxies
// and observed through its own NATS connection and the monitoring port
// (docs/external.md). It implements faults.Env and the same run
// steps as a Stack. The caller must Close it.
type External struct {
	rig    // recording through gate
	cfg    ExternalConfig
	gate   *Gate
	out    io.Writer
	errOut io.Writer

	apiBase  string // http://host:port (no /api/v2)
	Client   *APIClient
	natsOpts []nats.Option

	stored   map[string]bool // under rig.mu
	status   string          // under rig.mu: the job's status as last read back
	progress int             // under rig.mu: the progress stored as last read back
	created  int64           // under rig.mu: the job this run created (0: none), cancelled by Close
	stopRead context.CancelFunc
	readDone chan struct{}
}

var _ faults.Env = (*External)(nil)

// StartExternal checks that the NATS monitoring port answers, creates the
// proxies of the links in front of the given NATS and API, starts the
// observers and prints, to cfg.Out, the addresses the user must point the
// system under test at. Nothing is recorded until the config event is known
// (see [External.Ready]). The caller must Close the External, also after an
// error.
func StartExternal(ctx context.Context, cfg ExternalConfig, sink history.Sink) (e *External, err error) {
	if sink == nil {
		sink = history.Discard
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.StoredEvery <= 0 {
		cfg.StoredEvery = DefaultStoredEvery
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Err == nil {
		cfg.Err = cfg.Out
	}
	clock := cfg.Clock
	if clock == nil {
		start := time.Now()
		clock = func() float64 { return time.Since(start).Seconds() }
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Soak != nil {
		sink = cfg.Soak.filter(sink)
	}
	gate := NewGate(sink, clock)
	e = &External{
		cfg: cfg, gate: gate, out: cfg.Out, errOut: cfg.Err, stored: map[string]bool{},
		rig: rig{sink: gate, log: log, rng: rand.New(rand.NewSource(cfg.Seed)), proxies: cfg.Proxies,
			links: map[string]string{}, listen: cfg.Listen, allJobs: cfg.Soak != nil},
	}
	started := e // a failing return sets e to nil before this runs
	defer func() {
		if err != nil {
			started.Close()
			e = nil
		}
	}()
	if err := e.validate(); err != nil {
		return nil, err
	}
	if e.natsOpts, err = cfg.NATS.options(); err != nil {
		return nil, err
	}
	for i, m := range e.cfg.MonitorURLs {
		if _, err := observe.Connections(ctx, m); err != nil {
			how := "--nats-monitor-url"
			if len(cfg.MonitorURLs) == 0 {
				how = "derived from the NATS URL; give --nats-monitor-url"
			}
			return nil, fmt.Errorf("nats monitoring port of node %d at %s does not answer (%s; nats-server needs -m PORT): %s", i+1, StripUser(m), how, Redact(err.Error(), m))
		}
	}

	if err := e.startProxies(); err != nil {
		return nil, err
	}
	natsAddr, err := hostPort(cfg.NATSURLs[0], "4222")
	if err != nil {
		return nil, err
	}
	for _, link := range []string{faults.LinkAPINATS, faults.LinkResultsNATS} {
		if err := e.link(ctx, link, natsAddr); err != nil {
			return nil, err
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	e.Client = &APIClient{BaseURL: e.apiBase + "/api/v2", Token: cfg.APIToken, HTTP: client}
	var popts []observe.ProxyOption
	if cfg.Soak == nil {
		popts = append(popts, observe.ProxyScopeLater())
	}
	if cfg.ExternalWorkers {
		popts = append(popts, observe.ProxyRecordTasks())
	}
	if err := e.startRecordingProxy(ctx, e.apiBase, popts...); err != nil {
		return nil, err
	}

	oopts := []observe.NATSOption{observe.NATSLogger(log), observe.NATSConnectOptions(e.natsOpts...)}
	if cfg.Soak == nil {
		oopts = append(oopts, observe.NATSScopeLater())
	}
	if cfg.ExternalWorkers {
		oopts = append(oopts, observe.NATSTaskLookup(e.httpProxy.TaskOf))
	}
	if cfg.ObservePublishes {
		oopts = append(oopts, observe.ObservePublishes(""))
	}
	if e.natsObs, err = observe.NewNATSObserver(ctx, strings.Join(cfg.NATSURLs, ","), e.gate, oopts...); err != nil {
		return nil, fmt.Errorf("start nats observer: %s", Redact(err.Error(), cfg.NATSURLs...))
	}
	if err := e.startProber(ctx, e.apiBase, cfg.ProbeEvery); err != nil {
		return nil, err
	}
	e.printAddresses()
	return e, nil
}

func (e *External) validate() error {
	c := &e.cfg
	if len(c.NATSURLs) == 0 {
		return errors.New("external mode needs a NATS URL (--nats-url)")
	}
	if c.APIURL == "" {
		return errors.New("external mode needs the API's URL (--api-url)")
	}
	u, err := url.Parse(c.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--api-url %q: want http://host:port", StripUser(c.APIURL))
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v2")
	u.RawQuery, u.Fragment = "", ""
	e.apiBase = strings.TrimSuffix(u.String(), "/")
	for _, n := range c.NATSURLs {
		if _, err := hostPort(n, "4222"); err != nil {
			return err
		}
	}
	if len(c.MonitorURLs) == 0 {
		for _, n := range c.NATSURLs {
			hp, _ := hostPort(n, "4222")
			host, _, _ := net.SplitHostPort(hp)
			c.MonitorURLs = append(c.MonitorURLs, "http://"+net.JoinHostPort(host, DefaultMonitorPort))
		}
	}
	if len(c.MonitorURLs) != len(c.NATSURLs) {
		return fmt.Errorf("%d monitoring URLs for %d NATS URLs: give one --nats-monitor-url per --nats-url, in the same order", len(c.MonitorURLs), len(c.NATSURLs))
	}
	for link, addr := range c.Listen {
		switch link {
		case faults.LinkAPINATS, faults.LinkResultsNATS, faults.LinkWorkerAPI:
		default:
			return fmt.Errorf("--proxy %s=%s: external mode has the links %s, %s and %s", link, addr, faults.LinkAPINATS, faults.LinkResultsNATS, faults.LinkWorkerAPI)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("--proxy %s=%s: want host:port: %w", link, addr, err)
		}
	}
	if c.JobID != 0 && !c.ObservePublishes && !c.PublishIntoJob {
		return fmt.Errorf("job %d was not created by this run: give --observe-publishes (the API publishes its tasks), or --publish-into-job to publish made-up tasks into it", c.JobID)
	}
	if c.ExternalWorkers && c.Worker.HTTPTimeout == 0 {
		c.Worker.HTTPTimeout = 30 * time.Second
	}
	return nil
}

// printAddresses tells the user where to point the system under test.
func (e *External) printAddresses() {
	w := e.out
	fmt.Fprintf(w, "natschaos: external mode: the proxies are up. Point the system under test at them:\n")
	fmt.Fprintf(w, "  API's NATS URL (link api-nats)               nats://%s   → NATS %s\n", e.links[faults.LinkAPINATS], StripUser(e.cfg.NATSURLs[0]))
	fmt.Fprintf(w, "  result processor's NATS URL (results-nats)   nats://%s   → NATS %s\n", e.links[faults.LinkResultsNATS], StripUser(e.cfg.NATSURLs[0]))
	if e.cfg.ExternalWorkers {
		fmt.Fprintf(w, "  workers' API URL (link worker-api)           %s   → API %s/api/v2\n", e.WorkerURL(), StripUser(e.apiBase))
	} else {
		fmt.Fprintf(w, "  built-in workers poll through worker-api     %s   → API %s/api/v2\n", e.WorkerURL(), StripUser(e.apiBase))
	}
	fmt.Fprintf(w, "  observing NATS directly at %s, monitoring %s\n", strings.Join(mapStrings(e.cfg.NATSURLs, StripUser), ", "), strings.Join(mapStrings(e.cfg.MonitorURLs, StripUser), ", "))
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// NewJob waits for the API to answer, then creates a job of tasks tasks
// through POST /api/v2/jobs/ (or takes cfg.JobID), starts sampling its
// consumer and publishes its tasks (publish events) unless
// cfg.ObservePublishes: then the API publishes them and the observer
// records them.
func (e *External) NewJob(ctx context.Context, tasks int) (int64, error) {
	fmt.Fprintf(e.out, "natschaos: waiting up to %s for the API at %s/api/v2/ to answer\n", e.cfg.ReadyTimeout, StripUser(e.apiBase))
	if err := e.waitFor(ctx, "the API to answer GET /api/v2/ with 200", func(ctx context.Context) (bool, error) {
		return e.live(ctx), nil
	}); err != nil {
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
		fmt.Fprintf(e.out, "natschaos: waiting up to %s for job %d to exist (GET /api/v2/jobs/%d/)\n", e.cfg.ReadyTimeout, id, id)
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
		fmt.Fprintf(e.out, "natschaos: recording the API's own publishes on %s\n", TaskSubject(id))
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
		return 0, fmt.Errorf("%w (the API must have created stream %s for job %d)", err, StreamName(id), id)
	}
	fmt.Fprintf(e.out, "natschaos: published %d tasks into %s\n", tasks, TaskSubject(id))
	return id, nil
}

// live reports whether the API's NATS-free endpoint answers 200.
func (e *External) live(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.apiBase+"/api/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := e.Client.client().Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
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
		e.cfg.ReadyTimeout, ConsumerName(job), StreamName(job))
	var cs observe.ConsumerSettings
	if err := e.waitFor(ctx, "consumer "+ConsumerName(job)+" on the monitoring port", func(ctx context.Context) (bool, error) {
		var found bool
		var err error
		cs, found, err = e.sampler.ConsumerConfig(ctx)
		return found, err
	}); err != nil {
		return err
	}
	e.gate.Open(history.Event{
		Kind: history.KindConfig, AckWait: cs.AckWait.Seconds(), MaxDeliver: cs.MaxDeliver, MaxAckPending: cs.MaxAckPending,
		Stream: StreamName(job), ConsumerName: ConsumerName(job),
		WorkerHTTPTimeout: e.cfg.Worker.HTTPTimeout.Seconds(), ConnectTimeout: e.cfg.ConnectTimeout.Seconds(),
	})
	fmt.Fprintf(e.out, "natschaos: consumer %s: ack_wait %s, max_deliver %d, max_ack_pending %d\n", ConsumerName(job), cs.AckWait, cs.MaxDeliver, cs.MaxAckPending)
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
	deadline := time.Now().Add(e.cfg.ReadyTimeout)
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("waited %s for %s: never happened (last error: %v)", e.cfg.ReadyTimeout, what, last)
			}
			return fmt.Errorf("waited %s for %s: never happened", e.cfg.ReadyTimeout, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readBackLoop reads the stored results back every cfg.StoredEvery until ctx ends.
func (e *External) readBackLoop(ctx context.Context) {
	defer close(e.readDone)
	t := time.NewTicker(e.cfg.StoredEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := e.readBack(ctx); err != nil && ctx.Err() == nil {
			e.log.Debug("read back stored results", "err", err)
		}
	}
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
	for _, id := range st.StoredID {
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

// Process implements faults.Env: the job can be cancelled through the API
// and built-in workers crashed; NATS and the API are not the harness's
// processes (see [ExternalUnsupported]).
func (e *External) Process() faults.Process { return externalProcess{e} }

// ExternalUnsupported says why fault cannot run against an external target
// ("" when it can): the harness controls neither the NATS processes nor the
// API's result processor, nor external workers.
func ExternalUnsupported(fault string, externalWorkers bool) string {
	switch fault {
	case "nats_restart", "nats_pause":
		return fault + " needs a NATS process the harness controls: in external mode natschaos does not own the nats-server processes (run it embedded, or restart the server yourself)"
	case "processor_crash":
		return "processor_crash needs the reference API in the harness's process: an external API's result processor cannot be crashed from outside"
	case "worker_crash":
		if externalWorkers {
			return "worker_crash crashes built-in workers: with --external-workers there are none"
		}
	}
	return ""
}

type externalProcess struct{ e *External }

func (p externalProcess) RestartNATS(context.Context, int, bool) error {
	return errors.New(ExternalUnsupported("nats_restart", false))
}

func (p externalProcess) PauseNATS(context.Context, int, time.Duration) error {
	return errors.New(ExternalUnsupported("nats_pause", false))
}

func (p externalProcess) CrashWorker(_ context.Context, after string) error {
	if why := ExternalUnsupported("worker_crash", p.e.cfg.ExternalWorkers); why != "" {
		return errors.New(why)
	}
	return p.e.crashWorker(after)
}

func (p externalProcess) SetProcessorCrash(crash func() bool) {
	if crash != nil {
		p.e.log.Error(ExternalUnsupported("processor_crash", false))
	}
}

// CancelJob cancels the job through the API and records the status the API
// then reports (the cancel endpoint returns once the job is cancelled).
func (p externalProcess) CancelJob(ctx context.Context) error {
	job := p.e.Job()
	if err := p.e.Client.CancelJob(ctx, job); err != nil {
		return err
	}
	if _, err := p.e.readBack(ctx); err != nil {
		return fmt.Errorf("read job %d after cancel: %w", job, err)
	}
	return nil
}

// Close stops everything the External started — workers, read-back,
// observers, proxies — healing every fault on the way, and cancels the job
// the run created unless it already ended (never a job it did not create).
// Events held for a config that never came are written as they are. Safe
// on a half-started External; it runs on every way out of a run (its end,
// an error, Ctrl-C, SIGTERM), so it uses its own timeouts, not the run's
// context.
func (e *External) Close() {
	e.StopWorkers()
	if e.stopRead != nil {
		e.stopRead()
		<-e.readDone
		e.stopRead = nil
	}
	e.mu.Lock()
	created := e.created
	e.created = 0
	e.mu.Unlock()
	if created != 0 {
		// Heal first: the API cancels through its NATS links.
		if e.proxies != nil {
			ctx, cancel := context.WithTimeout(context.Background(), faults.DefaultHealTimeout)
			if err := e.rig.Heal(ctx); err != nil {
				e.log.Warn("heal before cancelling the job", "err", err)
			}
			cancel()
		}
		e.cancelCreated(created)
	}
	e.rig.close()
	e.gate.Release()
}

// CancelTimeout bounds the cancel of the run's job on the way out.
const CancelTimeout = 10 * time.Second

// terminal says whether a job status needs no cancel.
func terminal(status string) bool {
	switch status {
	case "SUCCESS", "FAILURE", "REVOKED", "CANCELING":
		return true
	}
	return false
}

// cancelCreated cancels job, which this run created, through POST
// /jobs/{id}/cancel/ unless the API says it already ended, and says so on Err.
func (e *External) cancelCreated(job int64) {
	ctx, cancel := context.WithTimeout(context.Background(), CancelTimeout)
	defer cancel()
	if st, err := e.Client.Job(ctx, job); err == nil && terminal(st.Status) {
		return
	}
	if err := e.Client.CancelJob(ctx, job); err != nil {
		fmt.Fprintf(e.errOut, "natschaos: could not cancel job %d that this run created: %v (cancel it yourself: POST %s/api/v2/jobs/%d/cancel/)\n", job, err, StripUser(e.apiBase), job)
		return
	}
	fmt.Fprintf(e.errOut, "natschaos: cancelled job %d that this run created\n", job)
}
