package faults

import (
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"time"
)

// Step is one entry of a scenario's fault schedule: Fault on Link from At
// (an offset from the start of the chaos phase) for For, repeated Every.
type Step struct {
	At    time.Duration // offset from the start of the chaos phase
	For   time.Duration // how long the fault holds; 0 = until the chaos phase ends (heal)
	Every time.Duration // repeat period; 0 = once
	Link  string        // see [CheckLink]
	Fault Spec
}

// Validate checks the step on its own; chaos is the length of the chaos
// phase (0 = unknown, not checked). Error paths are relative to the step
// ("for", "latency.jitter").
func (s Step) Validate(chaos time.Duration) error {
	d, ok := Lookup(s.Fault.Name)
	if !ok {
		return s.Fault.Validate()
	}
	switch {
	case s.At < 0:
		return fieldErr("at", "negative duration %q", s.At)
	case s.For < 0:
		return fieldErr("for", "negative duration %q", s.For)
	case s.Every < 0:
		return fieldErr("every", "negative duration %q", s.Every)
	case s.For > MaxDuration:
		return fieldErr("for", "%s is longer than %s", s.For, MaxDuration)
	case s.Every > MaxDuration:
		return fieldErr("every", "%s is longer than %s", s.Every, MaxDuration)
	case chaos > 0 && s.At >= chaos:
		return fieldErr("at", "at %s is not inside the chaos phase (%s)", s.At, chaos)
	case d.Instant && s.For != 0:
		return fieldErr("for", "%s happens at once and takes no for", d.Name)
	case !d.Instant && s.Every > 0 && s.For == 0:
		return fieldErr("for", "a repeated step (every) needs a for")
	case s.Every > 0 && s.For > s.Every:
		return fieldErr("for", "for %s is longer than every %s: windows would overlap", s.For, s.Every)
	case d.Instant && s.Every > 0 && s.Fault.span() > s.Every:
		return fieldErr("every", "every %s is shorter than the pause %s", s.Every, s.Fault.span())
	}
	if err := CheckLink(d, s.Link); err != nil {
		return err
	}
	_, err := s.Fault.Build("check", s.Link)
	return err
}

// Range is a closed interval of durations [Min, Max].
type Range struct {
	Min, Max time.Duration
}

func (r Range) validate(path string) error {
	if r.Min < 0 || r.Max < 0 {
		return fieldErr(path, "negative duration in [%s, %s]", r.Min, r.Max)
	}
	if r.Max < r.Min {
		return fieldErr(path, "max %s below min %s", r.Max, r.Min)
	}
	if r.Max > MaxDuration {
		return fieldErr(path, "max %s is longer than %s", r.Max, MaxDuration)
	}
	return nil
}

// draw picks a duration in r, in whole milliseconds, from rng.
func (r Range) draw(rng *rand.Rand) time.Duration {
	lo, hi := r.Min.Milliseconds(), r.Max.Milliseconds()
	if hi <= lo {
		return time.Duration(lo) * time.Millisecond
	}
	return time.Duration(lo+rng.Int63n(hi-lo+1)) * time.Millisecond
}

// Choice is one fault a nemesis may draw.
type Choice struct {
	Link  string
	Fault Spec
}

// Nemesis draws faults at random from Faults, one at a time: it waits a
// gap drawn from Interval, holds a fault for a time drawn from Duration,
// and again, until the chaos phase ends. The draws come from the run's
// seeded source: the same seed gives the same schedule.
type Nemesis struct {
	Faults   []Choice `yaml:"faults"`
	Interval Range    `yaml:"interval"` // quiet time before each fault
	Duration Range    `yaml:"duration"` // how long each fault holds (instant faults ignore it)
}

// Validate checks the nemesis; error paths are relative to it.
func (n Nemesis) Validate() error {
	if len(n.Faults) == 0 {
		return fieldErr("faults", "a nemesis needs at least one fault")
	}
	for i, c := range n.Faults {
		st := Step{Link: c.Link, Fault: c.Fault}
		if d, ok := Lookup(c.Fault.Name); ok && !d.Instant {
			st.For = time.Second
		}
		if err := st.Validate(0); err != nil {
			return PrefixPath(fmt.Sprintf("faults[%d]", i), err)
		}
	}
	if err := n.Interval.validate("interval"); err != nil {
		return err
	}
	if n.Interval.Max < time.Millisecond {
		return fieldErr("interval", "the interval must allow at least 1ms between faults")
	}
	if err := n.Duration.validate("duration"); err != nil {
		return err
	}
	if n.Duration.Min < time.Millisecond {
		return fieldErr("duration", "faults must hold at least 1ms")
	}
	return nil
}

// Steps draws the nemesis's schedule for a chaos phase of length chaos
// from rng, as concrete steps.
func (n Nemesis) Steps(chaos time.Duration, rng *rand.Rand) []Step {
	if len(n.Faults) == 0 {
		return nil
	}
	var steps []Step
	t := n.Interval.draw(rng)
	for t < chaos {
		c := n.Faults[rng.Intn(len(n.Faults))]
		d := n.Duration.draw(rng)
		st := Step{At: t, Link: c.Link, Fault: c.Fault}
		end := t + d
		if def, ok := Lookup(c.Fault.Name); ok && def.Instant {
			end = t + c.Fault.span()
		} else {
			end = min(end, chaos)
			st.For = end - t
		}
		steps = append(steps, st)
		gap := n.Interval.draw(rng)
		if gap <= 0 {
			gap = time.Millisecond
		}
		t = end + gap
	}
	return steps
}

// Window is one concrete fault window of a run.
type Window struct {
	ID    string        // "f1", "f2", ... in order of Start
	Name  string        // the fault's name
	Link  string        // the link it acts on ("" for process faults)
	Start time.Duration // offset from the start of the chaos phase
	End   time.Duration // when it is healed; End == Start for an instant fault
	Fault Spec
}

// Resolve turns a schedule into concrete windows within a chaos phase of
// length chaos: each step's repetitions, then the nemesis's draws from rng
// (rng is used only when nemesis is not nil). Windows are ordered by Start
// and numbered in that order; an open-ended or overlong window ends with
// the chaos phase. The same steps, nemesis, chaos and seed give the same
// windows.
func Resolve(steps []Step, nemesis *Nemesis, chaos time.Duration, rng *rand.Rand) []Window {
	all := steps
	if nemesis != nil {
		all = append(append([]Step(nil), steps...), nemesis.Steps(chaos, rng)...)
	}
	var ws []Window
	for _, s := range all {
		def, _ := Lookup(s.Fault.Name)
		link := s.Link
		if def.Link == HTTPLink && link == "" {
			link = LinkWorkerAPI
		}
		for at := s.At; at < chaos; at += s.Every {
			w := Window{Name: s.Fault.Name, Link: link, Start: at, Fault: s.Fault}
			switch {
			case def.Instant:
				w.End = at + s.Fault.span()
			case s.For == 0:
				w.End = chaos
			default:
				w.End = min(at+s.For, chaos)
			}
			ws = append(ws, w)
			if s.Every <= 0 {
				break
			}
		}
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Start < ws[j].Start })
	for i := range ws {
		ws[i].ID = "f" + strconv.Itoa(i+1)
	}
	return ws
}
