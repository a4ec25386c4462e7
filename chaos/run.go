package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/history"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/harness/worker"
)

// ErrViolated is returned (wrapped) by Run when an invariant was violated:
// the command exits 1.
var ErrViolated = errors.New("an invariant was violated")

// ErrInconclusive is returned (wrapped, with the reason) by Run when the run
// cannot be judged: the harness could not drive load, the history has no
// end phase, or no-loss could not decide. The command exits 3.
var ErrInconclusive = errors.New("inconclusive")

// UsageError is a bad flag, argument or scenario: the command exits 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// IsUsage says whether err is bad usage or a bad scenario file (exit 2).
func IsUsage(err error) bool {
	var u *UsageError
	var f *FileError
	var fe *faults.FieldError
	return errors.As(err, &u) || errors.As(err, &f) || errors.As(err, &fe)
}

// RunOptions are the settings of one Run that are not part of the scenario.
type RunOptions struct {
	// Out is the directory that receives report.json, history.jsonl and
	// scenario.yaml; it is created.
	Out string
	// Seed overrides the scenario's seed when not 0; with neither, the clock.
	Seed int64
	// Variant overrides the scenario's variant when not "".
	Variant string
	// Strict makes a check that could not decide fail the run.
	Strict bool
	// TimeScale stretches every duration of the scenario by this factor
	// ([Scenario.Scale]); 0 or 1 = as written. It must pass ValidTimeScale.
	TimeScale float64
	// Proxies is the Toxiproxy to use (a remote one); nil = embedded.
	Proxies faults.Proxies
	// Logger receives the harness's log lines; nil is silent.
	Logger *slog.Logger
	// External runs the scenario against services that already run
	// instead of the embedded stack; nil = embedded.
	External *External
	// CommandLine is the command line that asked for the run, its secrets
	// already removed; report.json's provenance records it.
	CommandLine []string
	// Progress receives a live progress line (elapsed, the phase, the
	// active fault, tasks stored); nil = none. Terminal redraws it in
	// place every second; otherwise a plain line at each phase.
	Progress io.Writer
	Terminal bool
	// ProgressLabel starts the progress line, e.g. "scenario 2 of 5".
	ProgressLabel string

	live *liveStats // verify's per-cell figures; nil = Run makes its own when Progress is set
}

// External is where an external target runs and how to reach it
// (docs/external.md). Its credentials are never printed and never written
// into report.json, scenario.yaml or history.jsonl.
type External struct {
	NATSURLs         []string          // one per node; the proxies forward to the first
	MonitorURLs      []string          // one per node; empty = port 8222 on each NATS host
	APIURL           string            // http://host:port of the API
	APIToken         string            // the API key
	NATS             harness.NATSAuth  // the harness's own NATS credentials
	JobID            int64             // drive this job; 0 = create one
	PublishIntoJob   bool              // publish made-up tasks into JobID, a job the run did not create
	ExternalWorkers  bool              // the platform's workers poll through worker-api
	ObservePublishes bool              // record the API's publishes instead of publishing
	Listen           map[string]string // link → fixed proxy listen address
	ReadyTimeout     time.Duration     // each wait for the system under test; 0 = 60 s
	Out              io.Writer         // the lines that ask something of the user
	Err              io.Writer         // what the run did beyond its own job (publish into JobID, cancel its job); nil = Out
}

// checkExternal refuses, before anything starts, a scenario that an
// external target cannot run: process faults on processes the harness does
// not own.
func checkExternal(sc Scenario, x *External) error {
	if x == nil {
		return nil
	}
	for i, st := range sc.Faults {
		if why := harness.ExternalUnsupported(st.Fault.Name, x.ExternalWorkers); why != "" {
			return &UsageError{fmt.Errorf("scenario %s: faults[%d]: %s", sc.Name, i, why)}
		}
		if st.Fault.Name == "cancel_job" && x.JobID != 0 {
			return &UsageError{fmt.Errorf("scenario %s: faults[%d]: cancel_job would cancel job %d, which this run did not create (--job-id): run it on a job the run creates", sc.Name, i, x.JobID)}
		}
	}
	if sc.SUT.Cluster > 1 {
		return &UsageError{fmt.Errorf("scenario %s: sut.cluster %d starts an embedded cluster; in external mode give one --nats-url per node instead", sc.Name, sc.SUT.Cluster)}
	}
	return nil
}

// Phase lengths that are not settings of a scenario.
const (
	// DrainGrace is added to max_deliver × ack_wait (the consumer's, as
	// read) to bound the drain phase.
	DrainGrace = 3 * time.Second
	// SettleTimeout bounds the wait, after the end, for the server's
	// connections to come back to their warmup level: the fallback of a
	// target without taps on its NATS links (connection-leak allows 2 s,
	// so waiting longer proves nothing more).
	SettleTimeout = 2500 * time.Millisecond
	// SettleMargin is added to the leak grace in the wait, after the end,
	// for the NATS links to have no connection open: the history must
	// reach past the grace for connection-leak to judge what stayed open.
	SettleMargin = 500 * time.Millisecond
	pollEvery    = 50 * time.Millisecond
)

// Prepare applies the run's overrides, defaults and time scale to sc, validates it,
// draws its seed and resolves its nemesis: the returned scenario is exactly
// what runs, and what scenario.yaml records. The *rand.Rand is the run's one
// source of randomness from here on.
func Prepare(sc Scenario, o RunOptions) (Scenario, *rand.Rand, error) {
	if o.Variant != "" {
		sc.SUT.Variant = o.Variant
	}
	switch {
	case o.Seed != 0:
		sc.Seed = o.Seed
	case sc.Seed == 0:
		sc.Seed = time.Now().UnixNano()
	}
	sc = sc.WithDefaults()
	if o.TimeScale != 0 && o.TimeScale != 1 {
		if err := ValidTimeScale(o.TimeScale); err != nil {
			return sc, nil, &UsageError{err}
		}
		sc = sc.Scale(o.TimeScale)
	}
	if err := sc.Validate(); err != nil {
		return sc, nil, &UsageError{fmt.Errorf("scenario %s: %w", sc.Name, err)}
	}
	rng := rand.New(rand.NewSource(sc.Seed))
	sc = sc.Resolve(rng)
	if err := checkExternal(sc, o.External); err != nil {
		return sc, nil, err
	}
	return sc, rng, nil
}

// Run is the pipeline: scenario → faults through proxies → system under
// test → history → checkers → report. It starts the embedded stack, drives
// one job through the phases warmup → chaos → heal → drain → end, records
// everything into Out/history.jsonl, checks it, and writes Out/report.json
// and Out/report.html.
// The error wraps ErrViolated when an invariant was violated and
// ErrInconclusive when the run cannot be judged (the report is returned
// with both), is a *UsageError for a bad scenario, and anything else means
// the harness could not run (whatever history exists is kept on disk).
func Run(ctx context.Context, sc Scenario, o RunOptions) (*report.Report, error) {
	sc, rng, err := Prepare(sc, o)
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("scenario", sc.Name)
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	if err := WriteScenarioFile(filepath.Join(o.Out, "scenario.yaml"), sc); err != nil {
		return nil, err
	}
	histPath := filepath.Join(o.Out, "history.jsonl")
	start := time.Now()
	rec, err := history.Create(histPath, start)
	if err != nil {
		return nil, err
	}
	tap := &configTap{Sink: rec}
	stopProgress := o.progress(ctx, rec, sc.Name, start)
	runErr := drive(ctx, sc, rng, rec, tap, o, log)
	stopProgress()
	if cerr := rec.Close(); cerr != nil && runErr == nil {
		runErr = cerr
	}
	if runErr != nil {
		return nil, fmt.Errorf("run %s: %w (history kept in %s)", sc.Name, runErr, histPath)
	}

	results, err := check.RunFile(histPath, sc.Params())
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", sc.Name, err)
	}
	variant := sc.SUT.Variant
	if o.External != nil {
		variant = "external" // whatever runs at the API URL
	}
	rep := report.New(report.Meta{
		Scenario: sc.Name, Description: sc.Description, Proves: sc.Proves,
		Seed: sc.Seed, Variant: variant, Strict: o.Strict,
	}, results)
	rep.Provenance = report.NewProvenance(start, sc.Seed, tap.serverVersion(), o.CommandLine)
	if err := rep.WriteJSON(filepath.Join(o.Out, ReportJSON)); err != nil {
		return rep, err
	}
	if err := report.WriteHTML(filepath.Join(o.Out, ReportHTML), rep, histPath); err != nil {
		return rep, err
	}
	return rep, VerdictError(sc.Name, rep)
}

// progress feeds the run's live figures from rec and, with o.Progress,
// draws its progress line until the returned stop is called.
func (o RunOptions) progress(ctx context.Context, rec *history.Recorder, name string, start time.Time) (stop func()) {
	live := o.live
	if live == nil && o.Progress != nil {
		live = newLiveStats(nil)
	}
	if live == nil {
		return func() {}
	}
	rec.Tap(func(e history.Event) { live.observe(&e) })
	if o.Progress == nil {
		return func() {}
	}
	label := strings.TrimSpace(o.ProgressLabel + " " + name)
	l := &liveLine{w: o.Progress, terminal: o.Terminal}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.loop(ctx, 0, func() string {
			return fmt.Sprintf("%s %s  %s", label, time.Since(start).Truncate(time.Second), live.runLine())
		}, func() string { p, _ := live.now(); return p })
	}()
	return func() { cancel(); <-done }
}

// VerdictError is nil for a passing report, wraps ErrViolated for a failing
// one and ErrInconclusive, with the reason, for an inconclusive one.
func VerdictError(name string, rep *report.Report) error {
	switch rep.Verdict {
	case report.Pass:
		return nil
	case report.Inconclusive:
		return fmt.Errorf("%s: %w: %s", name, ErrInconclusive, rep.Why())
	}
	return fmt.Errorf("%s: %w", name, ErrViolated)
}

// Params are the checkers' tolerances from the scenario's expect block.
func (s Scenario) Params() check.Params {
	return check.Params{
		Epsilon:          s.Expect.Tolerance,
		ExpectOrphaned:   s.Expect.Orphaned,
		MaxStall:         s.Expect.MaxStall,
		ProbeP99:         s.Expect.ProbeP99,
		ExpectDuplicates: s.Expect.Duplicates,
		ExpectLateAcks:   s.Expect.LateAcks > 0,
	}
}

// StackConfig maps a scenario onto the embedded stack's settings.
func (s Scenario) StackConfig(seed int64, proxies faults.Proxies, log *slog.Logger) harness.Config {
	w := s.Workload
	return harness.Config{
		API: api.Config{
			Variant:        s.SUT.Variant,
			Token:          fmt.Sprintf("natschaos-%x", seed),
			ConnectTimeout: s.SUT.ConnectTimeout,
			OpTimeout:      s.SUT.OpTimeout,
			FetchWait:      s.SUT.FetchWait,
			AckWait:        s.SUT.AckWait,
			MaxDeliver:     s.SUT.MaxDeliver,
			MaxAckPending:  s.SUT.MaxAckPending,
			MaxConcurrent:  s.SUT.MaxConcurrent,
			Processes:      s.SUT.Processes,
			Threads:        s.SUT.Threads,
			Replicas:       s.Nodes(),
		},
		Worker: worker.Config{
			ID:          "w",
			Preset:      w.Worker,
			BatchSize:   w.BatchSize,
			HTTPTimeout: w.HTTPTimeout,
			JobsTimeout: w.HTTPTimeout,
			// The production worker waits 60 s for a result post and 30 s
			// before abandoning posts; scaled like the /tasks timeout.
			ResultTimeout: 2 * w.HTTPTimeout,
			AbandonAfter:  w.HTTPTimeout,
			ProcessTime:   w.ProcessTime,
			IdleSleep:     w.IdleSleep,
			Fetchers:      w.Fetchers,
		},
		Workers:      w.Workers,
		AltBatchSize: w.AltBatchSize,
		Cluster:      s.SUT.Cluster,
		Proxies:      proxies,
		Seed:         seed,
		Logger:       log,
	}
}

// ExternalConfig maps a scenario and the external options onto an external
// target's settings.
func (s Scenario) ExternalConfig(x *External, seed int64, proxies faults.Proxies, clock func() float64, log *slog.Logger) harness.ExternalConfig {
	st := s.StackConfig(seed, proxies, log)
	return harness.ExternalConfig{
		NATSURLs: x.NATSURLs, MonitorURLs: x.MonitorURLs,
		APIURL: x.APIURL, APIToken: x.APIToken, NATS: x.NATS,
		JobID: x.JobID, PublishIntoJob: x.PublishIntoJob, ExternalWorkers: x.ExternalWorkers, ObservePublishes: x.ObservePublishes,
		Listen: x.Listen, ReadyTimeout: x.ReadyTimeout, Out: x.Out, Err: x.Err,
		Worker: st.Worker, Workers: st.Workers, AltBatchSize: st.AltBatchSize, ConnectTimeout: s.SUT.ConnectTimeout,
		Proxies: proxies, Clock: clock, Seed: seed, Logger: log,
	}
}

// target is what drive runs the phases against: the embedded stack or an
// external one.
type target interface {
	faults.Env
	NewJob(ctx context.Context, tasks int) (int64, error)
	StartWorkers(ctx context.Context) error
	Ready(ctx context.Context) error
	StopWorkers()
	Drained(ctx context.Context) (bool, error)
	// Cleaned reports whether the job's stream and consumer are gone.
	Cleaned(ctx context.Context) (bool, error)
	Heal(ctx context.Context) error
	Connections(ctx context.Context) (int, error)
	// OpenNATSConns is how many connections are open now through the
	// recording taps of the NATS links (ok false: no taps).
	OpenNATSConns() (n int, ok bool)
	Sample(ctx context.Context)
	Finish(ctx context.Context) error
	// Sink is where the run's own events (phases, fault windows) go, so
	// that they keep their order with the target's.
	Sink() history.Sink
	Close()
}

// configTap passes every event on to its sink and keeps the first config
// event (the consumer's settings as the target read them), the first
// nats-server version a server sample carried, and when the job last
// became SUCCESS, FAILURE or REVOKED (wall clock).
type configTap struct {
	history.Sink
	mu       sync.Mutex
	cfg      *history.Event
	version  string
	terminal time.Time // zero while the job is not terminal
}

// Emit implements history.Sink.
func (c *configTap) Emit(e history.Event) {
	switch e.Kind {
	case history.KindConfig:
		c.mu.Lock()
		if c.cfg == nil {
			c.cfg = &e
		}
		c.mu.Unlock()
	case history.KindJob:
		c.mu.Lock()
		switch e.JobStatus {
		case "SUCCESS", "FAILURE", "REVOKED":
			if c.terminal.IsZero() {
				c.terminal = time.Now()
			}
		case "CANCELING":
		default:
			c.terminal = time.Time{}
		}
		c.mu.Unlock()
	}
	if e.Kind == history.KindServer && e.Version != "" {
		c.mu.Lock()
		if c.version == "" {
			c.version = e.Version
		}
		c.mu.Unlock()
	}
	c.Sink.Emit(e)
}

// serverVersion is the nats-server version of the first server sample
// that carried one ("" when none did).
func (c *configTap) serverVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// terminalAt is when the job became SUCCESS, FAILURE or REVOKED, if it is.
func (c *configTap) terminalAt() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.terminal, !c.terminal.IsZero()
}

// config returns the config event, if one went through.
func (c *configTap) config() (history.Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return history.Event{}, false
	}
	return *c.cfg, true
}

// drainLimit bounds the drain phase: max_deliver × ack_wait of the
// consumer as read (the config event), plus DrainGrace; the scenario's
// values stand in for what the consumer does not say (no config, or an
// unlimited max_deliver).
func drainLimit(sc Scenario, cfg history.Event, ok bool) time.Duration {
	a, m := sc.SUT.AckWait, sc.SUT.MaxDeliver
	if ok && cfg.AckWait > 0 {
		a = time.Duration(cfg.AckWait * float64(time.Second))
	}
	if ok && cfg.MaxDeliver > 0 {
		m = cfg.MaxDeliver
	}
	return time.Duration(m)*a + DrainGrace
}

// consumerDiffers says, in one line, how the consumer's settings differ from
// the scenario's; "" when they do not.
func consumerDiffers(sc Scenario, cfg history.Event) string {
	a := time.Duration(cfg.AckWait * float64(time.Second))
	if a == sc.SUT.AckWait && cfg.MaxDeliver == sc.SUT.MaxDeliver && cfg.MaxAckPending == sc.SUT.MaxAckPending {
		return ""
	}
	return fmt.Sprintf("the consumer's ack_wait %s, max_deliver %d, max_ack_pending %d differ from the scenario's (%s, %d, %d): the drain (up to %s) and every check's bound use the consumer's",
		a, cfg.MaxDeliver, cfg.MaxAckPending, sc.SUT.AckWait, sc.SUT.MaxDeliver, sc.SUT.MaxAckPending, drainLimit(sc, cfg, true))
}

// start brings the run's target up: the embedded stack, or the external
// one of o.External.
func start(ctx context.Context, sc Scenario, rng *rand.Rand, rec *history.Recorder, sink history.Sink, o RunOptions, log *slog.Logger) (target, error) {
	seed := rng.Int63()
	if o.External != nil {
		x, err := harness.StartExternal(ctx, sc.ExternalConfig(o.External, seed, o.Proxies, rec.Since, log), sink)
		if err != nil {
			return nil, err
		}
		return x, nil
	}
	st, err := harness.Start(ctx, sc.StackConfig(seed, o.Proxies, log), sink)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// drive runs the phases against a fresh target.
func drive(ctx context.Context, sc Scenario, rng *rand.Rand, rec *history.Recorder, tap *configTap, o RunOptions, log *slog.Logger) (err error) {
	stack, err := start(ctx, sc, rng, rec, tap, o, log)
	if err != nil {
		return err
	}
	defer func() {
		stack.Close()
		if h, ok := stack.(interface{ HealErr() error }); ok {
			err = errors.Join(err, h.HealErr()) // a heal that failed on the way out is the run's error
		}
	}()
	if _, err := stack.NewJob(ctx, sc.Workload.Tasks); err != nil {
		return err
	}
	phase := func(name string) {
		stack.Sink().Emit(history.Event{Kind: history.KindPhase, Name: name})
		stack.Sample(ctx)
		log.Debug("phase", "name", name)
	}

	phase(history.PhaseWarmup)
	base, err := stack.Connections(ctx)
	if err != nil {
		return err
	}
	if err := stack.StartWorkers(ctx); err != nil {
		return err
	}
	if err := stack.Ready(ctx); err != nil {
		return err
	}
	cfg, haveCfg := tap.config()
	if x := o.External; haveCfg && x != nil && x.Out != nil {
		if d := consumerDiffers(sc, cfg); d != "" {
			fmt.Fprintf(x.Out, "natschaos: %s\n", d)
		}
	}
	if err := wait(ctx, sc.Warmup); err != nil {
		return err
	}

	phase(history.PhaseChaos)
	chaosEnd := time.Now().Add(sc.Chaos)
	runner := faults.Runner{Env: stack, Sink: stack.Sink(), Log: log}
	if err := runner.Run(ctx, sc.Windows()); err != nil {
		return fmt.Errorf("fault schedule: %w", err)
	}
	if err := wait(ctx, time.Until(chaosEnd)); err != nil {
		return err
	}

	phase(history.PhaseHeal)
	if err := stack.Heal(ctx); err != nil {
		return err
	}
	healed := time.Now()

	phase(history.PhaseDrain)
	limit := drainLimit(sc, cfg, haveCfg)
	if err := poll(ctx, limit, func() (bool, error) { return stack.Drained(ctx) }); err != nil && !errors.Is(err, errTimedOut) {
		return err
	}

	probeContract(ctx, stack, log)
	if err := stack.Finish(ctx); err != nil {
		return err
	}
	phase(history.PhaseEnd)
	stack.StopWorkers()
	// Settle: until no connection is open on a NATS link, or the leak
	// grace (and a margin) passed, so that a connection left open shows
	// open past the grace; without taps, until the server's connections
	// are back to their warmup level.
	settled := func() (bool, error) {
		n, err := stack.Connections(ctx)
		return err == nil && n <= base, nil
	}
	settle := SettleTimeout
	if _, ok := stack.OpenNATSConns(); ok {
		settled = func() (bool, error) {
			n, _ := stack.OpenNATSConns()
			return n == 0, nil
		}
		settle = sc.Params().Resolve(history.Event{}).LeakGrace + SettleMargin
	}
	if err := poll(ctx, settle, settled); err != nil && !errors.Is(err, errTimedOut) {
		return err
	}
	// Cleanup: a job that ended has its stream and consumer deleted
	// within the cleanup bound of its end (or of the heal, as cleanup
	// needs NATS); wait for that, or for the bound and a margin, so that
	// the last sample says which (resource-cleanup).
	if at, ok := tap.terminalAt(); ok {
		from := at
		if healed.After(from) {
			from = healed
		}
		limit := time.Until(from.Add(sc.Params().Resolve(history.Event{}).CleanupBound + SettleMargin))
		cleaned := func() (bool, error) {
			gone, err := stack.Cleaned(ctx)
			return err == nil && gone, nil
		}
		if err := poll(ctx, limit, cleaned); err != nil && !errors.Is(err, errTimedOut) {
			return err
		}
	}
	stack.Sample(ctx)
	return nil
}

var errTimedOut = errors.New("timed out")

// wait waits d unless ctx ends first: the scenario's own schedule, not a
// guess at how long something takes.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// poll calls done every pollEvery until it says true, fails, ctx ends, or
// limit passes (errTimedOut).
func poll(ctx context.Context, limit time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errTimedOut
		}
		if err := wait(ctx, pollEvery); err != nil {
			return err
		}
	}
}
