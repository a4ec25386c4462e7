package check

import (
	"math"
	"slices"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/history"
)

// effectsOf is what the fault of a start event does: the effects it
// recorded or, in a history written before faults recorded them, what the
// fault of that name does on that link as the faults package describes it.
// This is the one place a checker goes from a fault's name to what it does;
// a name the faults package does not know does nothing a checker judges.
func effectsOf(e *history.Event) history.Effects {
	if e.Effects != 0 {
		return e.Effects
	}
	if d, ok := faults.Lookup(e.Name); ok {
		return d.EffectsOn(e.Link)
	}
	return 0
}

// unreachable matches the faults that make NATS unreachable from the API
// (api-nats down, held or reset; NATS restarted or paused).
func unreachable(w window) bool { return w.effects.Has(history.EffectNATSUnreachable) }

// window is a fault window; end is +Inf while the fault lasts.
type window struct {
	id, name, link string
	effects        history.Effects
	start, end     float64
}

// faulted is the base of a checker that judges what happened against fault
// windows: the run's config, and the windows of the faults that match.
type faulted struct {
	base
	faults windows
}

func newFaulted(name string, p Params, match func(w window) bool) faulted {
	return faulted{base: newBase(name, p), faults: windows{match: match}}
}

// Observe implements [Checker]: as [base.Observe], the windows of the
// matching faults taken first.
func (f *faulted) Observe(e *history.Event) {
	if !f.config(e) {
		f.faults.observe(e)
		f.on(e)
	}
}

// windows tracks fault windows matching a predicate.
type windows struct {
	match func(w window) bool
	list  []window
}

func (w *windows) observe(e *history.Event) {
	if e.Kind != history.KindFault {
		return
	}
	switch e.Phase {
	case "start":
		x := window{id: e.ID, name: e.Name, link: e.Link, effects: effectsOf(e), start: e.T, end: math.Inf(1)}
		if w.match(x) {
			w.list = append(w.list, x)
		}
	case "end":
		for i := range w.list {
			if w.list[i].id == e.ID && math.IsInf(w.list[i].end, 1) {
				w.list[i].end = e.T
				return
			}
		}
	}
}

// overlaps reports whether [from, to] meets any window.
func (w *windows) overlaps(from, to float64) bool {
	return slices.ContainsFunc(w.list, func(x window) bool { return from <= x.end && to >= x.start })
}
