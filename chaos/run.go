package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/history"
)

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
	if err := checkTarget(sc, o.External); err != nil {
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
	rep.Provenance = report.NewProvenance(start, sc.Seed, tap.version.get(), o.CommandLine)
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

// Params are the checkers' tolerances from the scenario's expect block.
func (s Scenario) Params() check.Params {
	return check.Params{
		Epsilon:          s.Expect.Tolerance,
		ExpectOrphaned:   s.Expect.Orphaned,
		MaxStall:         s.Expect.MaxStall,
		ProbeP99:         s.Expect.ProbeP99,
		CleanupBound:     s.Expect.CleanupBound,
		ExpectDuplicates: s.Expect.Duplicates,
		ExpectLateAcks:   s.Expect.LateAcks > 0,
	}
}
