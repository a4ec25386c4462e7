package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"sync"
	"time"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll"
	"github.com/natschaos/natschaos/protocol"
)

// configTap passes every event on to its sink and keeps the first config
// event (the consumer's settings as the target read them), the first
// nats-server version a server sample carried, and when the job last
// became SUCCESS, FAILURE or REVOKED (wall clock).
type configTap struct {
	history.Sink
	version  serverVersion
	mu       sync.Mutex
	cfg      *history.Event
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
		if c.cfg != nil && !c.ownJob(e.Job) { // another job of a run with several
			c.mu.Unlock()
			break
		}
		switch {
		case protocol.Terminal(e.JobStatus):
			if c.terminal.IsZero() {
				c.terminal = time.Now()
			}
		default:
			c.terminal = time.Time{}
		}
		c.mu.Unlock()
	}
	c.version.see(e)
	c.Sink.Emit(e)
}

// serverVersion keeps the nats-server version of the first server sample
// that carried one, for a report's provenance.
type serverVersion struct {
	mu sync.Mutex
	v  string
}

func (s *serverVersion) see(e history.Event) {
	if e.Kind != history.KindServer || e.Version == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v == "" {
		s.v = e.Version
	}
}

// get is the version seen ("" when no sample carried one).
func (s *serverVersion) get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v
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
	if err := waitUntil(ctx, limit, func() (bool, error) { return stack.Drained(ctx) }); err != nil {
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
	if err := waitUntil(ctx, settle, settled); err != nil {
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
		if err := waitUntil(ctx, limit, cleaned); err != nil {
			return err
		}
	}
	stack.Sample(ctx)
	return nil
}

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

// waitUntil polls done every pollEvery until it says true, fails, ctx
// ends, or limit passes — which is no error: the phase bound is reached
// and the history shows what happened.
func waitUntil(ctx context.Context, limit time.Duration, done func() (bool, error)) error {
	err := poll.Until(ctx, limit, pollEvery, func(context.Context) error {
		ok, err := done()
		switch {
		case err != nil:
			return poll.Stop(err)
		case !ok:
			return poll.NotYet
		}
		return nil
	})
	if errors.Is(err, poll.ErrTimedOut) {
		return nil
	}
	return err
}
