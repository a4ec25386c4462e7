package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"sync"
	"time"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness/observe"
	"github.com/natschaos/natschaos/harness/worker"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// rig is what a Stack and an External share around the system under test:
// the Toxiproxy proxies of the links, the HTTP fault rules and the recording
// proxy on worker-api, the run's Rand, the observers (NATS observer,
// monitoring sampler, liveness prober) and the built-in workers. Stack and
// External embed it and keep what differs: the NATS and the API behind the
// links, and how faults reach their processes.
type rig struct {
	sink history.Sink // where the recording proxy, the observers and the workers record
	log  *slog.Logger
	rng  *rand.Rand

	proxies faults.Proxies
	links   map[string]string // link → the proxy's listen address
	listen  map[string]string // link → a fixed listen address; the others take 127.0.0.1:0

	rules     faults.HTTPRules
	httpProxy *observe.Proxy

	taps map[string]*observe.ConnTap // NATS link → the recording tap behind its proxy

	allJobs bool // a soak: the observers record and the workers serve every job

	natsObs *observe.NATSObserver
	prober  *observe.Prober
	sampler *observe.Sampler

	mu     sync.Mutex // guards job, more and the workers (and what the embedder says)
	job    int64
	more   []int64 // the run's other jobs (a Stack's Config.MoreJobs)
	pool   *worker.Pool
	stopWk context.CancelFunc
	wkDone chan struct{}

	healErr error // set by close: the proxies could not be healed on the way out
}

// newRig is a rig that records to sink, logs to log (nil: nowhere), draws
// from a source seeded with seed and puts its links on proxies (nil: the
// embedded Toxiproxy); allJobs makes it a soak's.
func newRig(sink history.Sink, log *slog.Logger, seed int64, proxies faults.Proxies, allJobs bool) rig {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return rig{sink: sink, log: log, rng: rand.New(rand.NewSource(seed)), proxies: proxies, links: map[string]string{}, allJobs: allJobs}
}

// closeOnError, deferred by a constructor, closes what it started when it
// fails (it then returns nil): err is its error result, close the Close of
// what it made.
func closeOnError(err *error, close func()) {
	if *err != nil {
		close()
	}
}

// HealErr is the error of the last heal of close (a *faults.HealError), nil
// when every proxy was healed or there was none to heal.
func (r *rig) HealErr() error { return r.healErr }

// startProxies starts an embedded Toxiproxy unless one was given.
func (r *rig) startProxies() error {
	if r.proxies != nil {
		return nil
	}
	emb, err := faults.NewEmbedded()
	if err != nil {
		return fmt.Errorf("start toxiproxy: %w", err)
	}
	r.proxies = emb
	return nil
}

// link creates the proxy of link in front of upstream. On a NATS link
// (api-nats, results-nats) a recording tap sits between the proxy and
// upstream — client → proxy (faults) → tap → NATS — and records every
// connection the proxy accepted as conn events.
func (r *rig) link(ctx context.Context, link, upstream string) error {
	listen := r.listen[link]
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if link == faults.LinkAPINATS || link == faults.LinkResultsNATS {
		tap, err := observe.NewConnTap(link, upstream, r.sink, r.log)
		if err != nil {
			return err
		}
		if r.taps == nil {
			r.taps = map[string]*observe.ConnTap{}
		}
		r.taps[link] = tap
		upstream = tap.Addr()
	}
	var addr string
	var err error
	if _, embedded := r.proxies.(*faults.Embedded); embedded && r.listen[link] == "" {
		addr, err = createLink(ctx, r.proxies, link, upstream)
	} else {
		addr, err = r.proxies.Create(ctx, link, listen, upstream)
	}
	if err != nil {
		return fmt.Errorf("create link %s on %s: %w", link, listen, err)
	}
	r.links[link] = addr
	return nil
}

// startRecordingProxy starts the recording HTTP proxy in front of the API at
// apiBase (http://host:port, no /api/v2) and the worker-api link in front of it.
func (r *rig) startRecordingProxy(ctx context.Context, apiBase string, opts ...observe.ProxyOption) error {
	var err error
	opts = append([]observe.ProxyOption{observe.WithProxyLogger(r.log)}, opts...)
	if r.httpProxy, err = observe.NewProxy(apiBase, &r.rules, r.sink, opts...); err != nil {
		return fmt.Errorf("start recording proxy: %w", err)
	}
	return r.link(ctx, faults.LinkWorkerAPI, r.httpProxy.Addr())
}

// startProber starts the liveness prober of the API at apiBase, every
// `every` (0: observe.DefaultProbeInterval).
func (r *rig) startProber(ctx context.Context, apiBase string, every time.Duration) error {
	if every <= 0 {
		every = observe.DefaultProbeInterval
	}
	var err error
	if r.prober, err = observe.NewProber(ctx, apiBase+protocol.APIBase+"/", r.sink, observe.WithProberInterval(every), observe.WithProberLogger(r.log)); err != nil {
		return fmt.Errorf("start prober: %w", err)
	}
	return nil
}

// startSampler starts sampling the consumer of job and the servers at the
// monitoring URLs (node 1 first), every `every` (0: observe.DefaultSampleInterval).
func (r *rig) startSampler(ctx context.Context, job int64, monitorURLs []string, every time.Duration) error {
	if every <= 0 {
		every = observe.DefaultSampleInterval
	}
	sopts := []observe.SamplerOption{observe.WithSamplerInterval(every), observe.WithSamplerLogger(r.log)}
	if job != 0 { // 0: the servers only (a soak's jobs come and go)
		sopts = append(sopts, observe.WithSamplerConsumer(protocol.StreamName(job), protocol.ConsumerName(job)))
	}
	if len(monitorURLs) > 1 {
		sopts = append(sopts, observe.WithSamplerNodes(monitorURLs[1:]...))
	}
	var err error
	if r.sampler, err = observe.NewSampler(ctx, monitorURLs[0], r.sink, sopts...); err != nil {
		return fmt.Errorf("start sampler: %w", err)
	}
	return nil
}

// LinkAddr is the listen address of a link's proxy.
func (r *rig) LinkAddr(link string) string { return r.links[link] }

// WorkerURL is the API base URL as the workers see it: through worker-api.
func (r *rig) WorkerURL() string { return "http://" + r.links[faults.LinkWorkerAPI] + protocol.APIBase }

// Sink is where the run's own events go: the sink the harness records
// into (for an External, through the gate that holds everything back until
// the config event).
func (r *rig) Sink() history.Sink { return r.sink }

// Job is the id of the run's job (0 before NewJob).
func (r *rig) Job() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.job
}

// setJob records the run's job and tells the taps its stream: requests
// and acks naming another stream count as foreign from then on.
func (r *rig) setJob(id int64) {
	r.mu.Lock()
	r.job = id
	r.mu.Unlock()
	for _, tap := range r.taps {
		tap.SetStream(protocol.StreamName(id))
	}
}

// OpenNATSConns is how many connections are open now through the taps of
// the NATS links; ok is false when there are no taps.
func (r *rig) OpenNATSConns() (n int, ok bool) {
	for _, tap := range r.taps {
		n += tap.Open()
	}
	return n, len(r.taps) > 0
}

// closeTaps closes the taps of the NATS links: a close event marked
// observe.OpenAtEnd for every connection still open. The workers must be
// stopped first; the proxies close after.
func (r *rig) closeTaps() {
	for link, tap := range r.taps {
		if err := tap.Close(); err != nil {
			r.log.Warn("close conn tap", "link", link, "err", err)
		}
	}
}

// scope narrows the observers to job id: its stream, consumer and task
// subject, its URLs on the recording proxy. What they see of other jobs is
// dropped and counted as foreign.
func (r *rig) scope(id int64) {
	if r.natsObs != nil {
		r.natsObs.Scope(protocol.StreamName(id), protocol.ConsumerName(id), protocol.TaskSubject(id))
	}
	if r.httpProxy != nil {
		r.httpProxy.SetJob(id)
	}
}

// RunJobsLimit is the limit of the run's workers' job list: enough for them
// to find the run's jobs among others' (the platform's list, without one,
// answers one job per poll).
const RunJobsLimit = 1000

// startWorkers starts n workers from the template wc against the worker-api
// link, with the API token token, serving the run's jobs and no other (the
// job filter); every other one with the batch size alt when alt > 0. They
// run until StopWorkers or Close.
func (r *rig) startWorkers(ctx context.Context, n int, wc worker.Config, alt int, token string, more ...worker.Option) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pool != nil {
		return errors.New("workers already started")
	}
	if r.job == 0 && !r.allJobs {
		return errors.New("workers: no job yet (the workers serve only the run's job)")
	}
	wc.BaseURL = r.WorkerURL()
	wc.Token = token
	wc.Jobs = append([]int64{r.job}, r.more...)
	wc.JobsLimit = RunJobsLimit
	if r.allJobs {
		wc.Jobs = nil // every job of the embedded API is the soak's
	}
	opts := []worker.Option{worker.WithLogger(r.log)}
	if alt > 0 {
		opts = append(opts, worker.WithAltBatchSize(alt))
	}
	opts = append(opts, more...)
	pool, err := worker.NewPool(n, wc, r.sink, opts...)
	if err != nil {
		return fmt.Errorf("workers: %w", err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.pool, r.stopWk, r.wkDone = pool, cancel, make(chan struct{})
	go func() {
		defer close(r.wkDone)
		if err := pool.Run(wctx); err != nil {
			r.log.Warn("workers stopped", "err", err)
		}
	}()
	return nil
}

// StopWorkers stops the built-in workers and waits for them.
func (r *rig) StopWorkers() {
	r.mu.Lock()
	cancel, done := r.stopWk, r.wkDone
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Workers is the running pool of built-in workers (nil before StartWorkers).
func (r *rig) Workers() *worker.Pool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pool
}

// crashWorker arms a built-in worker to crash after the point after (the
// worker_crash fault).
func (r *rig) crashWorker(after string) error {
	pool := r.Workers()
	if pool == nil {
		return errors.New("worker_crash: no workers running")
	}
	id, err := pool.Crash(after)
	if err != nil {
		return fmt.Errorf("worker_crash: %w", err)
	}
	r.log.Info("worker armed to crash", "worker", id, "after", after)
	return nil
}

// Drained reports whether the job needs nothing more: its consumer is gone
// (the API deletes it when the job ends) or has nothing pending and nothing
// awaiting an ack, as the monitoring port says (so polling it opens no NATS
// connection).
func (r *rig) Drained(ctx context.Context) (bool, error) {
	if r.sampler == nil {
		return false, errors.New("drain: no job sampled yet")
	}
	pending, ackPending, found, err := r.sampler.ConsumerState(ctx)
	if err != nil {
		return false, fmt.Errorf("drain: %w", err)
	}
	return !found || (pending == 0 && ackPending == 0), nil
}

// Cleaned reports whether the job's stream and consumer are gone, as the
// monitoring port says (so polling it opens no NATS connection).
func (r *rig) Cleaned(ctx context.Context) (bool, error) {
	if r.sampler == nil {
		return false, errors.New("cleanup: no job sampled yet")
	}
	exist, err := r.sampler.JobResourcesExist(ctx)
	if err != nil {
		return false, fmt.Errorf("cleanup: %w", err)
	}
	return !exist, nil
}

// Heal removes every toxic, enables every proxy and clears every HTTP rule:
// the sweep of the heal phase (the fault runner already healed what it
// injected; this catches anything else).
func (r *rig) Heal(ctx context.Context) error {
	r.rules.Clear()
	if err := r.proxies.Heal(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("heal: %w", err) // interrupted: close heals with a fresh context
		}
		return &faults.HealError{Err: fmt.Errorf("heal: %w", err)}
	}
	return nil
}

// Sample takes one consumer/server sample now (at a phase change).
func (r *rig) Sample(ctx context.Context) {
	if r.sampler != nil {
		if err := r.sampler.Sample(ctx); err != nil {
			r.log.Warn("sample", "err", err)
		}
	}
}

// Proxies implements faults.Env.
func (r *rig) Proxies() faults.Proxies { return r.proxies }

// HTTP implements faults.Env: the rules of the recording proxy on worker-api.
func (r *rig) HTTP() *faults.HTTPRules { return &r.rules }

// Taps implements faults.Env: the recording taps of the NATS links.
func (r *rig) Taps() faults.Taps { return rigTaps(r.taps) }

// rigTaps are a rig's taps by link.
type rigTaps map[string]*observe.ConnTap

// Drop implements faults.Taps.
func (t rigTaps) Drop(link string, pattern protocol.SubjectPattern) (func() int64, error) {
	tap := t[link]
	if tap == nil {
		return nil, fmt.Errorf("no tap on link %s (only the NATS links have one)", link)
	}
	return tap.Drop(pattern), nil
}

// Rand implements faults.Env.
func (r *rig) Rand() *rand.Rand { return r.rng }

// close stops the observers, then closes the proxies — a Toxiproxy it
// started, the proxies it created in a given one — healing every fault on
// the way, then the recording proxy. The workers must be stopped first.
// Safe on a half-started rig.
func (r *rig) close() {
	if r.prober != nil {
		r.prober.Close()
	}
	if r.sampler != nil {
		r.sampler.Close()
	}
	if r.natsObs != nil {
		r.natsObs.Close()
	}
	r.closeTaps()
	r.rules.Clear()
	if r.proxies != nil {
		ctx, cancel := context.WithTimeout(context.Background(), faults.DefaultHealTimeout)
		if err := r.proxies.Close(ctx); err != nil {
			r.log.Warn("close toxiproxy", "err", err)
			r.healErr = &faults.HealError{Err: fmt.Errorf("close toxiproxy: %w", err)}
		}
		cancel()
	}
	if r.httpProxy != nil {
		_ = r.httpProxy.Close() // nothing to do about a close error on the way out
	}
}
