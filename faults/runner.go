package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/natschaos/natschaos/history"
)

// DefaultHealTimeout bounds the heal of a [Runner] that was stopped.
const DefaultHealTimeout = 10 * time.Second

// Runner plays resolved windows against an Env in real time, records each
// window's start and end as fault events, and heals everything it injected
// before Run returns — also when ctx is cancelled (it then heals with a
// fresh context bounded by HealTimeout) or when an injection fails.
type Runner struct {
	Env         Env
	Sink        history.Sink  // fault events; nil drops them
	Log         *slog.Logger  // nil is silent
	HealTimeout time.Duration // 0 = DefaultHealTimeout
}

type point struct {
	at    time.Duration
	start bool
	w     int // index into windows
}

// Run plays windows (offsets from now, the start of the chaos phase) and
// returns once the last one has ended, every fault healed. It returns
// ctx.Err() when cancelled, or the first injection error (the schedule
// stops there); heal errors are joined to it. Run ends with a sweep that
// heals every proxy and clears every HTTP rule whatever happened.
//
// An action — an instant fault with no window of its own: a cancel, a
// restart, a crash armed — waits on the system under test, which may take
// long to answer (a cancel whose stream delete NATS never answers). The
// schedule does not wait for it: actions run one after the other, in their
// order, beside the schedule, and each writes its start (once done) and
// its end itself; Run returns once the last has returned.
func (r *Runner) Run(ctx context.Context, windows []Window) (err error) {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sink := r.Sink
	if sink == nil {
		sink = history.Discard
	}
	begin := time.Now()

	var pts []point
	for i, w := range windows {
		pts = append(pts, point{w.Start, true, i}, point{w.End, false, i})
	}
	// Ends before starts at the same instant; a window's start before its end.
	sort.SliceStable(pts, func(i, j int) bool {
		if pts[i].at != pts[j].at {
			return pts[i].at < pts[j].at
		}
		if pts[i].w == pts[j].w {
			return pts[i].start
		}
		return !pts[i].start && pts[j].start
	})

	active := map[int]Heal{}
	var order []int // active windows in injection order
	end := func(hctx context.Context, i int) error {
		h, ok := active[i]
		if !ok {
			return nil
		}
		delete(active, i)
		if k := slices.Index(order, i); k >= 0 {
			order = slices.Delete(order, k, k+1)
		}
		return r.heal(hctx, windows[i], h, sink, log)
	}

	defer func() {
		// The heal guarantee: a fresh context, whatever ctx became.
		ht := r.HealTimeout
		if ht <= 0 {
			ht = DefaultHealTimeout
		}
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ht)
		defer cancel()
		var errs []error
		for len(order) > 0 {
			errs = append(errs, end(hctx, order[len(order)-1]))
		}
		errs = append(errs, r.sweep(hctx))
		err = errors.Join(append([]error{err}, errs...)...)
	}()

	// Actions run here, beside the schedule; an action that fails stops
	// the schedule (stop), and Run waits for the last one before it heals.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	acts := make(chan int, len(windows))
	actsDone := make(chan struct{})
	go func() {
		defer close(actsDone)
		for i := range acts {
			if aerr := r.act(ctx, windows[i], sink, log); aerr != nil {
				stop(aerr)
				return
			}
		}
	}()
	defer func() {
		close(acts)
		<-actsDone
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && (err == nil || errors.Is(err, context.Canceled)) {
			err = cause // an action failed: the schedule stopped there
		}
	}()

	for _, p := range pts {
		if wait := p.at - time.Since(begin); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		w := windows[p.w]
		if isAction(w) {
			if p.start {
				acts <- p.w
			}
			continue
		}
		if !p.start {
			if herr := end(ctx, p.w); herr != nil {
				return herr
			}
			continue
		}
		h, ierr := r.start(ctx, w, sink, log)
		if ierr != nil {
			return ierr
		}
		active[p.w] = h
		order = append(order, p.w)
	}
	return nil
}

// start injects w's fault and writes its start.
func (r *Runner) start(ctx context.Context, w Window, sink history.Sink, log *slog.Logger) (Heal, error) {
	f, err := w.Fault.Build(w.ID, w.Link)
	if err != nil {
		return nil, fmt.Errorf("window %s: %w", w.ID, err)
	}
	h, err := f.Inject(ctx, r.Env)
	if err != nil {
		return nil, fmt.Errorf("inject %s %s on %q: %w", w.ID, w.Name, w.Link, err)
	}
	log.Info("fault", "id", w.ID, "fault", w.Name, "link", w.Link, "for", w.End-w.Start)
	def, _ := Lookup(w.Name) // Build found it
	sink.Emit(history.Event{Kind: history.KindFault, ID: w.ID, Name: w.Name, Link: w.Link, Phase: "start", Effects: def.EffectsOn(w.Link)})
	return h, nil
}

// isAction reports whether w is an action: an instant fault with no window
// of its own.
func isAction(w Window) bool {
	def, ok := Lookup(w.Name)
	return ok && def.Instant && def.Span == "" && w.End == w.Start
}

// act injects the action w, writes its start, heals it at once (an
// action's heal undoes nothing that lasts) and writes its end.
func (r *Runner) act(ctx context.Context, w Window, sink history.Sink, log *slog.Logger) error {
	h, err := r.start(ctx, w, sink, log)
	if err != nil {
		return err
	}
	return r.heal(context.WithoutCancel(ctx), w, h, sink, log)
}

// heal heals w's fault with h and writes its end; a heal that fails is a
// [HealError].
func (r *Runner) heal(ctx context.Context, w Window, h Heal, sink history.Sink, log *slog.Logger) error {
	err := h(ctx)
	if err != nil {
		err = &HealError{Err: fmt.Errorf("heal %s %s on %q: %w", w.ID, w.Name, w.Link, err)}
		log.Warn("heal failed", "id", w.ID, "fault", w.Name, "link", w.Link, "err", err)
	}
	sink.Emit(history.Event{Kind: history.KindFault, ID: w.ID, Name: w.Name, Link: w.Link, Phase: "end"})
	return err
}

// HealError is a fault that could not be healed: a toxic, a disabled proxy
// or a stopped process may remain after the run.
type HealError struct{ Err error }

func (e *HealError) Error() string { return e.Err.Error() }
func (e *HealError) Unwrap() error { return e.Err }

// sweep heals every proxy and clears every HTTP rule.
func (r *Runner) sweep(ctx context.Context) error {
	if r.Env == nil {
		return nil
	}
	if h := r.Env.HTTP(); h != nil {
		h.Clear()
	}
	if p := r.Env.Proxies(); p != nil {
		if err := p.Heal(ctx); err != nil {
			return &HealError{Err: fmt.Errorf("heal proxies: %w", err)}
		}
	}
	return nil
}
