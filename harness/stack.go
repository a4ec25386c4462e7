// Package harness is everything of natschaos that has sockets: the embedded
// stack (NATS with JetStream, Toxiproxy with a proxy per link, the reference
// API, the workers), the observers that feed the recorder, and the job driver.
// It records; it never judges (that is chaos/check).
//
// The links of a Stack, each a Toxiproxy proxy (docs/scenarios.md, "Links"):
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
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/harness/observe"
	"github.com/natschaos/natschaos/harness/worker"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
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
	// AltBatchSize, when > 0, is the batch size of every other worker
	// (w2, w4, …): a workload with two batch sizes.
	AltBatchSize int
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
	// AllJobs is a soak's stack: jobs come and go, and every one of them
	// is the run's. The observers record every job (no scope), the
	// workers serve every job (no job filter) and the sampler samples the
	// servers only. Jobs are made with NewSoakJob.
	AllJobs bool
	// Pipeline is the pipeline slug of the run's job ("": the API's default).
	Pipeline string
	// MoreJobs are jobs NewJob creates and publishes after the run's job,
	// each in its own pipeline: several jobs in flight at once. The
	// workers serve them all and the observers record them all (no
	// scope); the run's job is the one sampled, and Drained waits for
	// every one of them to finish.
	MoreJobs []JobSpec
	// WorkerPipelines, when not empty, gives worker i (w1 is 0) the
	// pipelines WorkerPipelines[i] to ask for (worker groups); a worker
	// past its end asks for every pipeline.
	WorkerPipelines [][]string
}

// JobSpec is one more job of a run (Config.MoreJobs).
type JobSpec struct {
	Pipeline string // pipeline slug ("": the API's default)
	Tasks    int    // tasks published into it, ≥ 1
}

// EmbeddedFirstJobID is the id of the embedded API's first job: several
// digits, as the platform's database ids are, so that a job id is written
// and parsed as more than one digit in every subject, stream name and path.
const EmbeddedFirstJobID = 40001

// Stack is the embedded system under test with its proxies and observers
// (the rig it shares with External). It implements faults.Env. The caller
// must Close it.
type Stack struct {
	rig
	cfg Config

	NATS  *natsd.Server   // node 1
	Nodes []*natsd.Server // every node (NATS alone without a cluster)

	apiMu     sync.Mutex
	sut       *api.API      // the reference API; an api_restart replaces it (see API)
	apiServed chan struct{} // closed when sut's Serve returns
	apiLn     net.Listener
	apiURL    string // direct, for the harness's own calls and the prober
	Client    *APIClient

	closers []func()
}

var _ faults.Env = (*Stack)(nil)

// Start brings up NATS, Toxiproxy and its links, the reference API, the
// recording HTTP proxy, the NATS observer and the liveness prober, all on
// 127.0.0.1 with random ports. Workers start with StartWorkers, once a job
// exists. The caller must Close the Stack, also after an error.
func Start(ctx context.Context, cfg Config, sink history.Sink) (s *Stack, err error) {
	if sink == nil {
		sink = history.Discard
	}
	cfg.Workers = max(cfg.Workers, 1)
	s = &Stack{cfg: cfg, rig: newRig(sink, cfg.Logger, cfg.Seed, cfg.Proxies, cfg.AllJobs)}
	defer closeOnError(&err, s.Close)

	if err := s.startProxies(); err != nil {
		return nil, err
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
	if apiCfg.FirstJobID == 0 {
		apiCfg.FirstJobID = EmbeddedFirstJobID
	}
	if apiCfg.Logger == nil {
		apiCfg.Logger = s.log
	}
	a, err := api.New(apiCfg)
	if err != nil {
		return nil, fmt.Errorf("start api: %w", err)
	}
	if s.apiLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		a.Close()
		return nil, fmt.Errorf("api listener: %w", err)
	}
	s.apiURL = "http://" + s.apiLn.Addr().String()
	s.serveAPI(a, s.apiLn)
	s.closers = append(s.closers, s.closeAPI)
	s.Client = &APIClient{BaseURL: s.apiURL + protocol.APIBase, Token: apiCfg.Token}

	if err := s.startRecordingProxy(ctx, s.apiURL); err != nil {
		return nil, err
	}

	if cfg.NoObservers {
		return s, nil
	}
	// Node 1 first, where the API's links go: acks reach the observer
	// without crossing a route.
	obsOpts := []observe.NATSOption{observe.WithNATSLogger(s.log), observe.WithNATSConnectOptions(nats.DontRandomize())}
	if !cfg.AllJobs && len(cfg.MoreJobs) == 0 {
		obsOpts = append(obsOpts, observe.WithNATSScopeLater())
	}
	if s.natsObs, err = observe.NewNATSObserver(ctx, s.clientURLs(), sink, obsOpts...); err != nil {
		return nil, fmt.Errorf("start nats observer: %w", err)
	}
	if err := s.startProber(ctx, s.apiURL, cfg.ProbeEvery); err != nil {
		return nil, err
	}
	return s, nil
}

// APIURL is the API's own base URL (no proxy, no faults).
func (s *Stack) APIURL() string { return s.apiURL + protocol.APIBase }

// NewJob creates a job of tasks tasks through the API, creates its consumer
// exactly as the API would, records the consumer's real settings as the
// config event, starts sampling it, and publishes the tasks (publish events).
func (s *Stack) NewJob(ctx context.Context, tasks int) (int64, error) {
	id, err := s.Client.CreateJobIn(ctx, "natschaos", s.cfg.Pipeline, tasks)
	if err != nil {
		return 0, err
	}
	if len(s.cfg.MoreJobs) == 0 {
		s.setJob(id)
		s.scope(id)
	} else { // several jobs: every one is recorded, none is foreign
		s.mu.Lock()
		s.job = id
		s.mu.Unlock()
	}

	nc, err := nats.Connect(s.NATS.ClientURL(), nats.Name("natschaos-publisher"))
	if err != nil {
		return 0, fmt.Errorf("publisher connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, fmt.Errorf("publisher jetstream: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, protocol.StreamName(id), s.API().ConsumerConfig(id))
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

	monitors := make([]string, len(s.Nodes))
	for i, nd := range s.Nodes {
		monitors[i] = nd.MonitorURL()
	}
	if err := s.startSampler(ctx, id, monitors, s.cfg.SampleEvery); err != nil {
		return 0, err
	}
	if err := s.sampler.Sample(ctx); err != nil {
		s.log.Warn("first sample", "err", err)
	}
	if err := Publish(ctx, js, id, tasks, s.sink); err != nil {
		return 0, err
	}
	for _, more := range s.cfg.MoreJobs {
		if err := s.newMoreJob(ctx, js, more); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// newMoreJob creates one of Config.MoreJobs, its consumer as the API would,
// and publishes its tasks.
func (s *Stack) newMoreJob(ctx context.Context, js jetstream.JetStream, spec JobSpec) error {
	id, err := s.Client.CreateJobIn(ctx, "natschaos", spec.Pipeline, spec.Tasks)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.more = append(s.more, id)
	s.mu.Unlock()
	if _, err := js.CreateOrUpdateConsumer(ctx, protocol.StreamName(id), s.API().ConsumerConfig(id)); err != nil {
		return fmt.Errorf("create consumer of job %d: %w", id, err)
	}
	return Publish(ctx, js, id, spec.Tasks, s.sink)
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

// Ready implements the run's wait for traffic: the embedded stack needs
// none (its config event is written by NewJob).
func (s *Stack) Ready(context.Context) error { return nil }

// Finish implements the run's read-back: the embedded API records its
// stored events itself.
func (s *Stack) Finish(context.Context) error { return nil }

// StartWorkers starts the workers against the worker-api link. They run
// until StopWorkers or Close.
func (s *Stack) StartWorkers(ctx context.Context) error {
	var opts []worker.Option
	if groups := s.cfg.WorkerPipelines; len(groups) > 0 {
		opts = append(opts, worker.WithPipelinesOf(func(i int) []string {
			if i < len(groups) {
				return groups[i]
			}
			return nil
		}))
	}
	return s.startWorkers(ctx, s.cfg.Workers, s.cfg.Worker, s.cfg.AltBatchSize, s.cfg.API.Token, opts...)
}

// Drained reports whether the job needs nothing more (and every one of
// Config.MoreJobs is finished): it is finished, or its consumer has nothing pending and nothing awaiting an ack (read from the
// monitoring port, so polling it opens no NATS connection).
func (s *Stack) Drained(ctx context.Context) (bool, error) {
	s.mu.Lock()
	more := append([]int64(nil), s.more...)
	s.mu.Unlock()
	for _, id := range more {
		if !s.JobDone(id) {
			return false, nil
		}
	}
	job, ok := s.API().Job(s.Job())
	if !ok {
		return false, fmt.Errorf("job %d unknown to the api", s.Job())
	}
	switch job.Status {
	case protocol.StatusSuccess, protocol.StatusFailure, protocol.StatusRevoked:
		return true, nil
	}
	if s.sampler == nil && s.cfg.NoObservers {
		return false, nil // only the job's status tells
	}
	return s.rig.Drained(ctx)
}

// Heal removes every toxic, enables every proxy, clears every HTTP rule and
// the API's processor crash: the sweep of the heal phase (the fault runner
// already healed what it injected; this catches anything else).
func (s *Stack) Heal(ctx context.Context) error {
	s.API().SetProcessorCrash(nil)
	return s.rig.Heal(ctx)
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

// Process implements faults.Env.
func (s *Stack) Process() faults.Process { return stackProcess{s} }

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
	return p.s.crashWorker(after)
}

func (p stackProcess) SetProcessorCrash(crash func() bool) { p.s.API().SetProcessorCrash(crash) }

func (p stackProcess) RestartAPI(ctx context.Context) error {
	took, err := p.s.RestartAPI(ctx)
	p.s.log.Info("api restarted", "stop", took, "err", err)
	return err
}

func (p stackProcess) CancelJob(ctx context.Context) error {
	return CancelRun(ctx, p.s.Client, p.s.Job(), p.s.Sink())
}

func (p stackProcess) CreateJob(ctx context.Context) error {
	return ProbeCreate(ctx, p.s.Client, p.s.Sink())
}

// Close stops everything in order — workers, observers, proxies, recording
// proxy, API, NATS — healing every fault on the way. It is safe to call on a half-started Stack.
func (s *Stack) Close() {
	s.StopWorkers()
	s.rig.close()
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
