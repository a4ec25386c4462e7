package chaos

import (
	"fmt"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/natschaos/natschaos/faults"
)

// MaxTimeScale bounds the factor of [Scenario.Scale] (and --time-scale):
// a 2 s ack_wait becomes at most 2000 s.
const MaxTimeScale = 1000

// ValidTimeScale refuses a time scale that is not a number in (0, MaxTimeScale].
func ValidTimeScale(f float64) error {
	if math.IsNaN(f) || f <= 0 || f > MaxTimeScale {
		return fmt.Errorf("time scale %v: want a factor > 0 and ≤ %d", f, MaxTimeScale)
	}
	return nil
}

// Scale returns s with every duration multiplied by f, so that a scenario
// written for runs of seconds runs at a deployment's own time scale (f 150
// turns a 2 s ack_wait into 300 s): warmup and chaos; the fault schedule's
// at, for and every; every duration attribute of a fault (latency, jitter,
// delay, timeout, a pause's for) and the nemesis's interval and duration;
// ack_wait, the connect, op and fetch timeouts; the workers' HTTP timeout,
// process time and idle sleep; and the expect bounds max_stall, probe_p99,
// tolerance and cleanup_bound. Counts (tasks, workers, max_deliver…) and rates are left
// alone. A zero duration stays zero, so an unset setting keeps its default:
// call Scale after [Scenario.WithDefaults] to stretch the defaults too
// (probe_p99 and tolerance then keep theirs: 250 ms, and max(100 ms, 5 % of
// the scaled ack_wait)). f must pass [ValidTimeScale].
func (s Scenario) Scale(f float64) Scenario {
	d := func(v *time.Duration) { *v = scaleDuration(*v, f) }
	s.durations(func(_ string, v *time.Duration) { d(v) })
	steps := make([]faults.Step, len(s.Faults))
	for i, st := range s.Faults {
		d(&st.At)
		d(&st.For)
		d(&st.Every)
		st.Fault = scaleSpec(st.Fault, f)
		steps[i] = st
	}
	s.Faults = steps
	if s.Nemesis != nil {
		n := *s.Nemesis
		d(&n.Interval.Min)
		d(&n.Interval.Max)
		d(&n.Duration.Min)
		d(&n.Duration.Max)
		n.Faults = make([]faults.Choice, len(s.Nemesis.Faults))
		for i, c := range s.Nemesis.Faults {
			c.Fault = scaleSpec(c.Fault, f)
			n.Faults[i] = c
		}
		s.Nemesis = &n
	}
	return s
}

// scaleDuration is v × f, to the nanosecond.
func scaleDuration(v time.Duration, f float64) time.Duration {
	return time.Duration(math.Round(float64(v) * f))
}

// scaleSpec scales the attributes of a fault that are durations: those
// that parse as one with a unit ("15ms", "2s"); numbers, words and zero
// durations are left as written.
func scaleSpec(sp faults.Spec, f float64) faults.Spec {
	if len(sp.Attrs) == 0 {
		return sp
	}
	sp.Attrs = maps.Clone(sp.Attrs)
	for k, v := range sp.Attrs {
		dur, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || dur <= 0 {
			continue
		}
		sp.Attrs[k] = scaleDuration(dur, f).String()
	}
	return sp
}
