// Package chaostest runs natschaos scenarios from Go tests: the embedded
// stack (NATS with JetStream, Toxiproxy, the reference API and its workers)
// on 127.0.0.1 with random ports, the test's own context and temporary
// directory, its log, and a failed check reported as a test error.
//
//	func TestBatchReserve(t *testing.T) {
//		chaostest.Run(t, "batch-reserve-incident")
//	}
package chaostest

import (
	"bytes"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/report"
)

// Option changes how [Run] runs a scenario.
type Option func(*settings)

type settings struct {
	opts     chaos.RunOptions
	logLevel slog.Level
}

// WithVariant runs the reference API as this variant ("good",
// "reserve-one-by-one", ...) instead of the scenario's.
func WithVariant(v string) Option { return func(s *settings) { s.opts.Variant = v } }

// WithSeed sets the seed of every random choice instead of the scenario's.
func WithSeed(seed int64) Option { return func(s *settings) { s.opts.Seed = seed } }

// WithStrict makes a check that cannot decide fail the run.
func WithStrict() Option { return func(s *settings) { s.opts.Strict = true } }

// WithOut keeps the results (report.json, history.jsonl, scenario.yaml) in
// dir instead of the test's temporary directory, which is removed.
func WithOut(dir string) Option { return func(s *settings) { s.opts.Out = dir } }

// WithTimeScale stretches every duration of the scenario by f.
func WithTimeScale(f float64) Option { return func(s *settings) { s.opts.TimeScale = f } }

// WithLogLevel sets the level of the harness's log lines written through
// t.Log (default slog.LevelError; slog.LevelWarn adds what the components
// retried, slog.LevelDebug every phase, fault and call).
func WithLogLevel(l slog.Level) Option { return func(s *settings) { s.logLevel = l } }

// Run runs scenario — a built-in scenario's name, a scenario file's path,
// or a [chaos.Scenario] — on the embedded stack, with t.Context() as its
// context and t.TempDir() as its results directory (see [WithOut]), logs
// through t.Log, and returns its report. Each failed check is a t.Errorf
// naming the check, its summary and the results directory; an inconclusive
// run is a t.Errorf with why. A scenario that does not exist or is not
// valid, or a harness that cannot run, is a t.Errorf too, and Run returns
// nil.
func Run(t testing.TB, scenario any, opts ...Option) *report.Report {
	t.Helper()
	s := settings{logLevel: slog.LevelError}
	for _, o := range opts {
		o(&s)
	}
	var sc chaos.Scenario
	switch v := scenario.(type) {
	case chaos.Scenario:
		sc = v
	case string:
		var err error
		if sc, err = chaos.FindScenario(v); err != nil {
			t.Errorf("chaostest: %v", err)
			return nil
		}
	default:
		t.Errorf("chaostest: scenario is a %T: want a name, a file or a chaos.Scenario", scenario)
		return nil
	}
	if s.opts.Out == "" {
		s.opts.Out = t.TempDir()
	}
	lw := &logWriter{t: t}
	defer lw.stop()
	s.opts.Logger = slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: s.logLevel}))

	rep, err := chaos.Run(t.Context(), sc, s.opts)
	if rep == nil {
		t.Errorf("chaostest: %s: %v", sc.Name, err)
		return nil
	}
	Report(t, rep, s.opts.Out)
	if err != nil && !errors.Is(err, chaos.ErrViolated) && !errors.Is(err, chaos.ErrInconclusive) {
		t.Errorf("chaostest: %s: %v", sc.Name, err)
	}
	return rep
}

// Report turns a report into test errors: a t.Errorf per failed check (its
// name, summary and the results directory dir), and one for an
// inconclusive verdict with why. A passing report adds nothing.
func Report(t testing.TB, rep *report.Report, dir string) {
	t.Helper()
	for _, name := range rep.Failed() {
		for _, c := range rep.Checks {
			if c.Name != name {
				continue
			}
			summary := c.Summary
			if c.OK == nil {
				summary = "could not decide (strict): " + c.Why
			}
			t.Errorf("scenario %s (variant %s): check %s failed: %s (results in %s)", rep.Scenario, rep.Variant, c.Name, summary, dir)
		}
	}
	if rep.Verdict == report.Inconclusive {
		t.Errorf("scenario %s (variant %s): inconclusive: %s (results in %s)", rep.Scenario, rep.Variant, rep.Why(), dir)
	}
}

// logWriter writes the harness's log through t.Log, one call per line,
// until stop: a goroutine that logs after the test returned must not reach
// a finished test.
type logWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
	buf  []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Log(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *logWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.t.Log(string(w.buf))
	}
	w.done = true
}
