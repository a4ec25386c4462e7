// Package harness is everything of natschaos that has sockets: the embedded
// stack (NATS with JetStream, Toxiproxy with a proxy per link, the reference
// API, the workers), the observers that feed the recorder, and the job driver.
// It records; it never judges (that is chaos/check).
//
// The links of a Stack, each a Toxiproxy proxy (DESIGN.md "Links"):
//
//	workers ──worker-api──► recording HTTP proxy ──► API ──api-nats──► NATS
//	                                          result processor ──results-nats──► NATS
//
// The observers (ack/advisory listener, monitoring sampler, liveness prober)
// and the publisher talk to NATS and the API directly: what they see is never
// distorted by the faults they measure.
package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/chaos/history"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/harness/observe"
	"github.com/natschaos/natschaos/harness/worker"
)

// Config describes an embedded stack. Zero values take the defaults of the
// packages they configure.
type Config struct {
	// API configures the reference API; the stack sets its URLs and Sink.
	API api.Config
	// Worker is the template of every worker; the stack sets BaseURL, Token and ID.
	Worker worker.Config
	// Workers is how many workers run (default 1).
	Workers int
	// SampleEvery is the period of the consumer/server sampler (default 250 ms).
	SampleEvery time.Duration
	// ProbeEvery is the period of the liveness prober (default 100 ms).
	ProbeEvery time.Duration
	// Proxies is the Toxiproxy to use; nil starts one embedded in the process.
	// The stack closes an embedded one, and deletes its proxies from a given one.
	Proxies faults.Proxies
	// Seed seeds the Rand handed to faults.
	Seed int64
	// Logger receives the stack's own log lines; nil is silent.
	Logger *slog.Logger
	// Cluster is how many NATS servers run: 0 or 1 for one, 3 for a
	// JetStream cluster whose routes go through the links route-1 … route-3
	// (see startCluster). The API's links forward to node 1.
	Cluster int
	// NoObservers starts neither the NATS observer, nor the sampler, nor
	// the liveness prober. It is for benchmarks only (measuring what the
	// observers cost): a history without them cannot be judged, and
	// Drained then knows only the job's status.
	NoObservers bool
}

// Stack is the embedded system under test with its proxies and observers.
// It implements faults.Env. The caller must Close it.
type Stack struct {
	cfg  Config
	sink history.Sink
	log  *slog.Logger
	rng  *rand.Rand

	NATS    *natsd.Server   // node 1
	Nodes   []*natsd.Server // every node (NATS alone without a cluster)
	proxies faults.Proxies
	links   map[string]string // link → the proxy's listen address

	API    *api.API
	apiLn  net.Listener
	apiURL string // direct, for the harness's own calls and the prober
	Client *APIClient

	rules     faults.HTTPRules
	httpProxy *observe.Proxy

	natsObs *observe.NATSObserver
	prober  *observe.Prober
	sampler *observe.Sampler

	mu      sync.Mutex
	job     int64
	pool    *worker.Pool
	stopWk  context.CancelFunc
	wkDone  chan struct{}
	closers []func()
}

// Start brings up NATS, Toxiproxy and its links, the reference API, the
// recording HTTP proxy, the NATS observer and the liveness prober, all on
// 127.0.0.1 with random ports. Workers start with StartWorkers, once a job
// exists. The caller must Close the Stack, also after an error.
func Start(ctx context.Context, cfg Config, sink history.Sink) (s *Stack, err error) {
	if sink == nil {
		sink = history.Discard
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s = &Stack{cfg: cfg, sink: sink, log: log, rng: rand.New(rand.NewSource(cfg.Seed)), links: map[string]string{}}
	started := s // a failing return sets s to nil before this runs
	defer func() {
		if err != nil {
			started.Close()
			s = nil
		}
	}()

	s.proxies = cfg.Proxies
	if s.proxies == nil {
		emb, err := faults.NewEmbedded()
		if err != nil {
			return nil, fmt.Errorf("start toxiproxy: %w", err)
		}
		s.proxies = emb
	}
	if cfg.Cluster > 1 {
		s.Nodes, err = startCluster(ctx, s.proxies, cfg.Cluster, s.links)
		if len(s.Nodes) > 0 {
			s.NATS = s.Nodes[0]
		}
		if err != nil {
			return nil, fmt.Errorf("start nats cluster: %w", err)
		}
	} else {
		if s.NATS, err = natsd.Start(); err != nil {
			return nil, fmt.Errorf("start nats: %w", err)
		}
		s.Nodes = []*natsd.Server{s.NATS}
	}
	for _, link := range []string{faults.LinkAPINATS, faults.LinkResultsNATS} {
		if err := s.link(ctx, link, s.NATS.Addr()); err != nil {
			return nil, err
		}
	}

	apiCfg := cfg.API
	apiCfg.NATSURL = "nats://" + s.links[faults.LinkAPINATS]
	apiCfg.ResultsNATSURL = "nats://" + s.links[faults.LinkResultsNATS]
	apiCfg.Sink = sink
	if apiCfg.Logger == nil {
		apiCfg.Logger = log
	}
	if s.API, err = api.New(apiCfg); err != nil {
		return nil, fmt.Errorf("start api: %w", err)
	}
	if s.apiLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("api listener: %w", err)
	}
	s.apiURL = "http://" + s.apiLn.Addr().String()
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := s.API.Serve(s.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("api stopped", "err", err)
		}
	}()
	s.closers = append(s.closers, func() { s.API.Close(); <-served })
	s.Client = &APIClient{BaseURL: s.apiURL + "/api/v2", Token: apiCfg.Token}

	if s.httpProxy, err = observe.NewProxy(s.apiURL, &s.rules, sink, observe.ProxyLogger(log)); err != nil {
		return nil, fmt.Errorf("start recording proxy: %w", err)
	}
	if err := s.link(ctx, faults.LinkWorkerAPI, s.httpProxy.Addr()); err != nil {
		return nil, err
	}

	if cfg.NoObservers {
		return s, nil
	}
	// Node 1 first, where the API's links go: acks reach the observer
	// without crossing a route.
	if s.natsObs, err = observe.NewNATSObserver(ctx, s.clientURLs(), sink, observe.NATSLogger(log),
		observe.NATSConnectOptions(nats.DontRandomize())); err != nil {
		return nil, fmt.Errorf("start nats observer: %w", err)
	}
	probeEvery := cfg.ProbeEvery
	if probeEvery <= 0 {
		probeEvery = observe.DefaultProbeInterval
	}
	if s.prober, err = observe.NewProber(ctx, s.apiURL+"/api/v2/", sink, observe.ProberInterval(probeEvery), observe.ProberLogger(log)); err != nil {
		return nil, fmt.Errorf("start prober: %w", err)
	}
	return s, nil
}

func (s *Stack) link(ctx context.Context, link, upstream string) error {
	addr, err := s.proxies.Create(ctx, link, "127.0.0.1:0", upstream)
	if err != nil {
		return fmt.Errorf("create link %s: %w", link, err)
	}
	s.links[link] = addr
	return nil
}

// LinkAddr is the listen address of a link's proxy.
func (s *Stack) LinkAddr(link string) string { return s.links[link] }

// WorkerURL is the API base URL as the workers see it: through worker-api.
func (s *Stack) WorkerURL() string { return "http://" + s.links[faults.LinkWorkerAPI] + "/api/v2" }

// APIURL is the API's own base URL (no proxy, no faults).
func (s *Stack) APIURL() string { return s.apiURL + "/api/v2" }

// Job is the id of the run's job (0 before NewJob).
func (s *Stack) Job() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.job
}

// NewJob creates a job of tasks tasks through the API, creates its consumer
// exactly as the API would, records the consumer's real settings as the
// config event, starts sampling it, and publishes the tasks (publish events).
func (s *Stack) NewJob(ctx context.Context, tasks int) (int64, error) {
	id, err := s.Client.CreateJob(ctx, "natschaos", tasks)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.job = id
	s.mu.Unlock()

	nc, err := nats.Connect(s.NATS.ClientURL(), nats.Name("natschaos-publisher"))
	if err != nil {
		return 0, fmt.Errorf("publisher connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, fmt.Errorf("publisher jetstream: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, StreamName(id), s.API.ConsumerConfig(id))
	if err != nil {
		return 0, fmt.Errorf("create consumer of job %d: %w", id, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer info of job %d: %w", id, err)
	}
	s.sink.Emit(ConfigEvent(info, s.cfg.Worker.HTTPTimeout, s.cfg.API.ConnectTimeout))
	if s.cfg.NoObservers {
		return id, Publish(ctx, js, id, tasks, s.sink)
	}

	every := s.cfg.SampleEvery
	if every <= 0 {
		every = observe.DefaultSampleInterval
	}
	sopts := []observe.SamplerOption{observe.SamplerConsumer(StreamName(id), ConsumerName(id)),
		observe.SamplerInterval(every), observe.SamplerLogger(s.log)}
	if len(s.Nodes) > 1 {
		var others []string
		for _, nd := range s.Nodes[1:] {
			others = append(others, nd.MonitorURL())
		}
		sopts = append(sopts, observe.SamplerNodes(others...))
	}
	if s.sampler, err = observe.NewSampler(ctx, s.NATS.MonitorURL(), s.sink, sopts...); err != nil {
		return 0, fmt.Errorf("start sampler: %w", err)
	}
	if err := s.sampler.Sample(ctx); err != nil {
		s.log.Warn("first sample", "err", err)
	}
	if err := Publish(ctx, js, id, tasks, s.sink); err != nil {
		return 0, err
	}
	return id, nil
}

// ConfigEvent is the config event of a run, read from the consumer itself.
func ConfigEvent(info *jetstream.ConsumerInfo, workerHTTPTimeout, connectTimeout time.Duration) history.Event {
	return history.Event{
		Kind:              history.KindConfig,
		AckWait:           info.Config.AckWait.Seconds(),
		MaxDeliver:        info.Config.MaxDeliver,
		MaxAckPending:     info.Config.MaxAckPending,
		Stream:            info.Stream,
		ConsumerName:      info.Name,
		WorkerHTTPTimeout: workerHTTPTimeout.Seconds(),
		ConnectTimeout:    connectTimeout.Seconds(),
	}
}

// Sink is the sink the stack records into.
func (s *Stack) Sink() history.Sink { return s.sink }

// Ready implements the run's wait for traffic: the embedded stack needs
// none (its config event is written by NewJob).
func (s *Stack) Ready(context.Context) error { return nil }

// Finish implements the run's read-back: the embedded API records its
// stored events itself.
func (s *Stack) Finish(context.Context) error { return nil }

// StartWorkers starts the workers against the worker-api link. They run
// until StopWorkers or Close.
func (s *Stack) StartWorkers(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool != nil {
		return errors.New("workers already started")
	}
	wc := s.cfg.Worker
	wc.BaseURL = s.WorkerURL()
	wc.Token = s.cfg.API.Token
	pool, err := worker.NewPool(s.cfg.Workers, wc, s.sink, worker.WithLogger(s.log))
	if err != nil {
		return fmt.Errorf("workers: %w", err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.pool, s.stopWk, s.wkDone = pool, cancel, make(chan struct{})
	go func() {
		defer close(s.wkDone)
		if err := pool.Run(wctx); err != nil {
			s.log.Warn("workers stopped", "err", err)
		}
	}()
	return nil
}

// StopWorkers stops the workers and waits for them.
func (s *Stack) StopWorkers() {
	s.mu.Lock()
	cancel, done := s.stopWk, s.wkDone
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Workers is the running pool (nil before StartWorkers).
func (s *Stack) Workers() *worker.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pool
}

// Drained reports whether the job needs nothing more: it is finished, or its
// consumer has nothing pending and nothing awaiting an ack (read from the
// monitoring port, so polling it opens no NATS connection).
func (s *Stack) Drained(ctx context.Context) (bool, error) {
	job, ok := s.API.Job(s.Job())
	if !ok {
		return false, fmt.Errorf("job %d unknown to the api", s.Job())
	}
	switch job.Status {
	case api.StatusSuccess, api.StatusFailure, api.StatusRevoked:
		return true, nil
	}
	if s.sampler == nil {
		if s.cfg.NoObservers {
			return false, nil // only the job's status tells
		}
		return false, errors.New("drain: no job sampled yet")
	}
	pending, ackPending, found, err := s.sampler.ConsumerState(ctx)
	if err != nil {
		return false, fmt.Errorf("drain: %w", err)
	}
	return !found || (pending == 0 && ackPending == 0), nil
}

// Heal removes every toxic, enables every proxy and clears every HTTP rule:
// the sweep of the heal phase (the fault runner already healed what it
// injected; this catches anything else).
func (s *Stack) Heal(ctx context.Context) error {
	s.rules.Clear()
	s.API.SetProcessorCrash(nil)
	if err := s.proxies.Heal(ctx); err != nil {
		return fmt.Errorf("heal: %w", err)
	}
	return nil
}

// Connections is the server's current client connection count (/varz),
// read from the monitoring port without a connection of its own; in a
// cluster, the sum over the nodes that run.
func (s *Stack) Connections(ctx context.Context) (int, error) {
	if len(s.Nodes) <= 1 {
		return observe.Connections(ctx, s.NATS.MonitorURL())
	}
	total := 0
	for _, nd := range s.Nodes {
		if !nd.Running() {
			continue
		}
		n, err := observe.Connections(ctx, nd.MonitorURL())
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// clientURLs are the client URLs of every node, node 1 first, comma-separated.
func (s *Stack) clientURLs() string {
	urls := make([]string, len(s.Nodes))
	for i, nd := range s.Nodes {
		urls[i] = nd.ClientURL()
	}
	return strings.Join(urls, ",")
}

// Sample takes one consumer/server sample now (at a phase change).
func (s *Stack) Sample(ctx context.Context) {
	if s.sampler != nil {
		if err := s.sampler.Sample(ctx); err != nil {
			s.log.Warn("sample", "err", err)
		}
	}
}

// Proxies implements faults.Env.
func (s *Stack) Proxies() faults.Proxies { return s.proxies }

// HTTP implements faults.Env: the rules of the recording proxy on worker-api.
func (s *Stack) HTTP() *faults.HTTPRules { return &s.rules }

// Process implements faults.Env.
func (s *Stack) Process() faults.Process { return stackProcess{s} }

// Rand implements faults.Env.
func (s *Stack) Rand() *rand.Rand { return s.rng }

// stackProcess is the Process side of faults.Env for the embedded stack.
type stackProcess struct{ s *Stack }

// RestartNATS restarts node (1 … N; 0 is node 1). In a cluster it waits
// until the node is back in the cluster (routes and meta leader), so that
// the fault's window covers the node's absence.
func (p stackProcess) RestartNATS(ctx context.Context, node int, _ bool) error {
	if node < 0 || node > len(p.s.Nodes) {
		return fmt.Errorf("nats_restart: node %d: the embedded stack has node(s) 1 … %d (0 = node 1)", node, len(p.s.Nodes))
	}
	nd := p.s.NATS
	if node > 0 {
		nd = p.s.Nodes[node-1]
	}
	if err := nd.Restart(ctx); err != nil {
		return err
	}
	if len(p.s.Nodes) > 1 {
		return waitClusterReady(ctx, p.s.Nodes, ClusterReadyTimeout)
	}
	return nil
}

func (p stackProcess) PauseNATS(context.Context, int, time.Duration) error {
	return errors.New("nats_pause: needs an external nats-server process (SIGSTOP); the embedded server shares this process")
}

func (p stackProcess) CrashWorker(_ context.Context, after string) error {
	pool := p.s.Workers()
	if pool == nil {
		return errors.New("worker_crash: no workers running")
	}
	id, err := pool.Crash(after)
	if err != nil {
		return fmt.Errorf("worker_crash: %w", err)
	}
	p.s.log.Info("worker armed to crash", "worker", id, "after", after)
	return nil
}

func (p stackProcess) SetProcessorCrash(crash func() bool) { p.s.API.SetProcessorCrash(crash) }

func (p stackProcess) CancelJob(ctx context.Context) error {
	return p.s.Client.CancelJob(ctx, p.s.Job())
}

// Close stops everything in order — workers, observers, proxies, API, NATS —
// healing every fault on the way. It is safe to call on a half-started Stack.
func (s *Stack) Close() {
	s.StopWorkers()
	if s.prober != nil {
		s.prober.Close()
	}
	if s.sampler != nil {
		s.sampler.Close()
	}
	if s.natsObs != nil {
		s.natsObs.Close()
	}
	s.rules.Clear()
	if s.proxies != nil {
		ctx, cancel := context.WithTimeout(context.Background(), faults.DefaultHealTimeout)
		if err := s.proxies.Close(ctx); err != nil {
			s.log.Warn("close toxiproxy", "err", err)
		}
		cancel()
	}
	if s.httpProxy != nil {
		_ = s.httpProxy.Close() // nothing to do about a close error on the way out
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	for _, nd := range s.Nodes {
		nd.Close()
	}
	if len(s.Nodes) == 0 && s.NATS != nil {
		s.NATS.Close()
	}
}
