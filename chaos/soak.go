package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/history"
)

// Defaults of a soak.
const (
	DefaultJobsInFlight = 3
	DefaultJobSizeMin   = 200
	DefaultJobSizeMax   = 1000
	DefaultReportEvery  = 5 * time.Minute
	// MaxTaskRate bounds SoakOptions.TaskRate.
	MaxTaskRate = 100_000
	// jobGrace is how long a soak waits after a job ended before judging
	// it: the acks and stores of its last deliveries are recorded by then.
	jobGrace = 2 * time.Second
	// procEvery is the period of the proc samples.
	procEvery = time.Second
)

// SoakOptions are the settings of one Soak that are not the scenario's.
type SoakOptions struct {
	RunOptions
	// Duration is how long jobs are created; then the soak drains.
	Duration time.Duration
	// JobsInFlight is how many jobs run at once (default 3).
	JobsInFlight int
	// JobSizeMin and JobSizeMax bound the tasks of a job, drawn uniformly
	// from the seed (default 200–1000).
	JobSizeMin, JobSizeMax int
	// ReportEvery is the report interval (default 5 min): window checks are
	// judged, report.json rewritten and the history rotated at each.
	ReportEvery time.Duration
	// JobTimeout judges a job that has not ended after it (default: the
	// duration, at least 5 min).
	JobTimeout time.Duration
	// FaultEvery is the period of the fault schedule: it is played after
	// the warmup, then again every FaultEvery. 0 = the chaos phase plus
	// max_deliver × ack_wait, a calm gap in which the system recovers
	// (back to back, a 2 s outage in a 4 s chaos phase is NATS down half
	// the time). It must be at least the chaos phase.
	FaultEvery time.Duration
	// Workers overrides the scenario's worker count when > 0.
	Workers int
	// TaskRate, when > 0, is the tasks published per second across the
	// jobs: each job is still of a size drawn from JobSizeMin–JobSizeMax
	// (at most what the rate allows before Duration ends), the next one is
	// created when the previous one is published and fewer than
	// JobsInFlight run. 0 = every job's tasks published at once.
	TaskRate float64
	// ProgressEvery is the period of the plain progress lines (Progress
	// without Terminal): default 30 s (10 s for a soak of 2 min or less).
	ProgressEvery time.Duration
	// MetricsAddr serves Prometheus metrics at /metrics when not "".
	MetricsAddr string
	// MetricsBound is called with the address the metrics listen on.
	MetricsBound func(addr string)
	// Growth are resource-growth's tolerances.
	Growth check.GrowthParams
}

// soak is one running soak.
type soak struct {
	sc    Scenario
	o     SoakOptions
	log   *slog.Logger
	rng   *rand.Rand
	rec   *history.Recorder
	st    soakTarget
	jobs  *harness.SoakJobs // external mode: the soak's jobs; nil embedded
	j     *soakJudge
	live  *liveStats
	start time.Time
	cpu0  time.Duration
	dir   string // the history's segments
	out   string // report.json
	pace  *pacer // --task-rate; nil = unpaced

	version serverVersion

	mu         sync.Mutex
	createErrs int
	interval   *IntervalVerdict
}

// Soak runs a soak: the embedded stack (or, with RunOptions.External, an
// external target, where it touches only the jobs it created), jobs created continuously
// (JobsInFlight at once, each of a size drawn from the seed), the
// scenario's fault schedule repeated for Duration, every job judged when
// it ends and the window checks at every report interval. ctx ending
// stops it early: faults are healed, what finished is judged and the final
// report written (verdict at best INCONCLUSIVE). The error wraps
// ErrViolated or ErrInconclusive with a report, is a *UsageError for bad
// options, and anything else means the harness could not run.
func Soak(ctx context.Context, sc Scenario, o SoakOptions) (*SoakReport, error) {
	if err := checkSoakExternal(o.External); err != nil {
		return nil, err
	}
	if o.Duration <= 0 {
		return nil, &UsageError{fmt.Errorf("--duration %s: want > 0", o.Duration)}
	}
	if o.JobsInFlight == 0 {
		o.JobsInFlight = DefaultJobsInFlight
	}
	if o.JobSizeMin == 0 && o.JobSizeMax == 0 {
		o.JobSizeMin, o.JobSizeMax = DefaultJobSizeMin, DefaultJobSizeMax
	}
	if o.ReportEvery == 0 {
		o.ReportEvery = DefaultReportEvery
	}
	if o.JobTimeout == 0 {
		o.JobTimeout = max(o.Duration, 5*time.Minute)
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 30 * time.Second
		if o.Duration <= 2*time.Minute {
			o.ProgressEvery = 10 * time.Second
		}
	}
	switch {
	case o.JobsInFlight < 1 || o.JobsInFlight > 1000:
		return nil, &UsageError{fmt.Errorf("--jobs-in-flight %d: want 1 … 1000", o.JobsInFlight)}
	case o.JobSizeMin < 1 || o.JobSizeMax < o.JobSizeMin || o.JobSizeMax > 1_000_000:
		return nil, &UsageError{fmt.Errorf("--job-size %d-%d: want 1 ≤ MIN ≤ MAX ≤ 1000000", o.JobSizeMin, o.JobSizeMax)}
	case o.ReportEvery < time.Second:
		return nil, &UsageError{fmt.Errorf("--report-every %s: want ≥ 1s", o.ReportEvery)}
	case o.Workers < 0 || o.Workers > 10_000:
		return nil, &UsageError{fmt.Errorf("--workers %d: want 0 … 10000", o.Workers)}
	case !(o.TaskRate >= 0 && o.TaskRate <= MaxTaskRate): // NaN too
		return nil, &UsageError{fmt.Errorf("--task-rate %g: want > 0 and ≤ %d tasks a second", o.TaskRate, MaxTaskRate)}
	}
	if o.Workers > 0 {
		sc.Workload.Workers = o.Workers
	}
	sc, rng, err := Prepare(sc, o.RunOptions)
	if err != nil {
		return nil, err
	}
	if o.FaultEvery != 0 && o.FaultEvery < max(sc.Chaos, time.Second) {
		return nil, &UsageError{fmt.Errorf("--fault-every %s: want ≥ the scenario's chaos phase (%s) and ≥ 1s", o.FaultEvery, sc.Chaos)}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("scenario", sc.Name, "soak", o.Duration)
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	if err := WriteScenarioFile(filepath.Join(o.Out, "scenario.yaml"), sc); err != nil {
		return nil, err
	}
	s := &soak{sc: sc, o: o, log: log, rng: rng, start: time.Now(), cpu0: cpuTime(),
		dir: filepath.Join(o.Out, "history"), out: filepath.Join(o.Out, ReportJSON)}
	var m *soakMetrics
	if o.MetricsAddr != "" {
		m = newSoakMetrics()
		stop, addr, err := m.serve(o.MetricsAddr)
		if err != nil {
			return nil, &UsageError{err}
		}
		defer stop()
		if o.MetricsBound != nil {
			o.MetricsBound(addr)
		}
	}
	if o.TaskRate > 0 {
		s.pace = &pacer{every: time.Duration(float64(time.Second) / o.TaskRate)}
	}
	s.live = newLiveStats(m)
	s.j = newSoakJudge(sc.Params(), o.Growth, s.live)
	if s.rec, err = history.CreateSegments(s.dir, s.start); err != nil {
		return nil, err
	}
	s.rec.Tap(func(e history.Event) {
		s.version.see(e)
		s.j.Observe(e)
	})
	runErr := s.run(ctx)
	if s.st != nil {
		if h, ok := s.st.(interface{ HealErr() error }); ok {
			runErr = errors.Join(runErr, h.HealErr()) // a heal that failed on the way out is the soak's error
		}
	}
	rep := s.report(true, ctx.Err() != nil)
	if cerr := s.rec.Close(); cerr != nil && runErr == nil {
		runErr = cerr
	}
	rep.HistoryBytes, rep.HistoryBytesPerTask = s.historyBytes(rep.TasksPublished)
	if werr := rep.write(s.out); werr != nil && runErr == nil {
		runErr = werr
	}
	if runErr != nil {
		return rep, fmt.Errorf("soak %s: %w (history kept in %s)", sc.Name, runErr, s.dir)
	}
	return rep, rep.ExitError()
}

// run drives the soak until its duration passed or ctx ended, then drains.
func (s *soak) run(ctx context.Context) error {
	st, closeTarget, err := s.startTarget(ctx)
	if err != nil {
		return err
	}
	s.st = st
	defer closeTarget()
	phase := func(name string) {
		st.Sink().Emit(history.Event{Kind: history.KindPhase, Name: name})
		st.Sample(ctx)
	}
	phase(history.PhaseWarmup)
	if err := st.StartSoak(ctx); err != nil {
		return err
	}
	end := s.start.Add(s.o.Duration)
	runCtx, stopRun := context.WithDeadline(ctx, end)
	defer stopRun()

	var wg sync.WaitGroup
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopBG(); wg.Wait() }()
	wg.Add(3)
	go func() { defer wg.Done(); s.procLoop(bg) }() // returns at once in external mode
	go func() { defer wg.Done(); s.progressLoop(bg) }()
	go func() { defer wg.Done(); s.intervalLoop(bg) }()

	faultsDone := make(chan error, 1)
	go func() { faultsDone <- s.faultLoop(runCtx, st, phase) }()

	jobsErr := s.jobLoop(ctx, runCtx, st)
	stopRun()
	ferr := <-faultsDone
	phase(history.PhaseHeal)
	if err := st.Heal(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("heal", "err", err)
	}
	if jobsErr != nil {
		return jobsErr
	}
	if ferr != nil && !errors.Is(ferr, context.Canceled) && !errors.Is(ferr, context.DeadlineExceeded) {
		return fmt.Errorf("fault schedule: %w", ferr)
	}
	phase(history.PhaseEnd)
	st.StopWorkers()
	stopBG()
	wg.Wait()
	return nil
}

// cycle is the period of the fault schedule (SoakOptions.FaultEvery).
func (s *soak) cycle() time.Duration {
	if s.o.FaultEvery > 0 {
		return s.o.FaultEvery
	}
	return max(s.sc.Chaos+time.Duration(s.sc.SUT.MaxDeliver)*s.sc.SUT.AckWait, time.Second)
}

// faultLoop plays the scenario's schedule every cycle, after the warmup,
// healing between cycles, until ctx ends.
func (s *soak) faultLoop(ctx context.Context, st soakTarget, phase func(string)) error {
	if err := wait(ctx, s.sc.Warmup); err != nil {
		return err
	}
	phase(history.PhaseChaos)
	windows := s.sc.Windows()
	if len(windows) == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	runner := faults.Runner{Env: st, Sink: st.Sink(), Log: s.log}
	for ctx.Err() == nil {
		next := time.Now().Add(s.cycle())
		if err := runner.Run(ctx, windows); err != nil {
			return err
		}
		if err := st.Heal(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		if err := wait(ctx, time.Until(next)); err != nil {
			return err
		}
	}
	return ctx.Err()
}
