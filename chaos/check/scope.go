package check

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// jobScoped says whether a checker judges one job — its tasks, its
// deliveries, its consumer and its status — rather than the whole API.
// In a history with several jobs (a run with more jobs in flight than its
// own, of other pipelines) each job is judged by a set of its own.
func jobScoped(c Checker) bool {
	switch c.(type) {
	case *NoLoss, *MaxDeliver, *Duplicates, *RedeliveryTiming, *AckInTime, *Orphaned, *Stall,
		*TerminalGuard, *AckPendingBound, *JobConsistency, *ResourceCleanup:
		return true
	}
	return false
}

// maxReplayed bounds the phase and fault events a jobScope keeps to replay
// to a job announced late (a run has a handful of each).
const maxReplayed = 10_000

// jobScope feeds the checkers of one job the events of their job only.
//
// The run's job is that of the first config event (its stream job_<id>);
// its checkers are the ones [Run] reports. Each other job the history
// announces (by a job event) gets fresh checkers of the same kinds, fed the
// run's config with the job's own stream and the phases and faults seen so
// far, then every event of that job and every event of no job; their
// verdicts are folded into the run's ([jobScope.fold]), so that a task lost
// in any job of the run fails no-loss. Until a second job is announced every
// event goes through to the run's checkers, so a history of one job is
// judged exactly as without the scope; an event naming a job the history
// never announced (an image id that merely looks like "<n>-<m>") goes to
// the run's checkers too.
type jobScope struct {
	checkers []Checker        // the run's job's
	fresh    func() []Checker // new checkers of the same kinds, for another job
	run      int64            // the run's job; 0 until the first config event names it
	cfg      *history.Event   // the run's config
	known    map[int64]bool   // jobs announced by job or config events
	probes   map[int64]bool   // jobs the harness created to probe the API (create_job): judged by contract only
	others   map[int64][]Checker
	order    []int64                     // other jobs, in order of announcement
	results  map[int64]map[string]Result // their verdicts by check, once fold is first called
	replay   []history.Event             // phases and faults so far
}

func newJobScope(cs []Checker, fresh func() []Checker) *jobScope {
	return &jobScope{checkers: cs, fresh: fresh, known: map[int64]bool{}, probes: map[int64]bool{}, others: map[int64][]Checker{}}
}

// Observe implements observer.
func (s *jobScope) Observe(e *history.Event) {
	switch e.Kind {
	case history.KindConfig:
		if id, ok := protocol.JobOfStream(e.Stream); ok {
			s.known[id] = true
			if s.run == 0 {
				s.run, s.cfg = id, new(history.Event)
				*s.cfg = *e
			}
		}
	case history.KindJob:
		if e.Job != 0 {
			s.known[e.Job] = true
			s.announce(e.Job)
		}
	case history.KindPhase, history.KindFault:
		if len(s.replay) < maxReplayed {
			s.replay = append(s.replay, *e)
		}
	case history.KindContract:
		if p, ok := history.ProbeJob(e); ok && p != s.run {
			s.probe(p)
		}
	}
	id := history.JobOf(e)
	if s.probes[id] {
		return
	}
	if s.run == 0 || len(s.known) < 2 || id == s.run || (id != 0 && !s.known[id]) {
		feed(s.checkers, e)
		return
	}
	if id != 0 {
		feed(s.others[id], e)
		return
	}
	feed(s.checkers, e)
	for _, j := range s.order {
		feed(s.others[j], e)
	}
}

// probe leaves job id out: the harness created it to probe the API, and
// it never had a task to judge. Its job events came before the create's
// answer, so the checkers they gave it go.
func (s *jobScope) probe(id int64) {
	s.probes[id], s.known[id] = true, true
	if s.others[id] != nil {
		delete(s.others, id)
		s.order = slices.DeleteFunc(s.order, func(j int64) bool { return j == id })
	}
}

// announce gives job id, another job than the run's, checkers of its own:
// fed the run's config with the job's stream, and the phases and faults so
// far.
func (s *jobScope) announce(id int64) {
	if s.run == 0 || id == s.run || s.others[id] != nil || s.probes[id] {
		return
	}
	cs := s.fresh()
	cfg := *s.cfg
	cfg.Stream, cfg.ConsumerName = protocol.StreamName(id), ""
	feed(cs, &cfg)
	for i := range s.replay {
		feed(cs, &s.replay[i])
	}
	s.others[id] = cs
	s.order = append(s.order, id)
}

func feed(cs []Checker, e *history.Event) {
	for _, c := range cs {
		c.Observe(e)
	}
}

// fold adds the verdicts of the other jobs to the run's job's result r of
// the same check: any job's violation fails it (its offenses and summary
// named by job); a job whose no-loss cannot decide makes no-loss unknown
// (the run is then inconclusive); another check that could not judge a job
// (the consumer sampler watches the run's job's consumer only, say) keeps
// the run's job's verdict and says which job it did not judge.
func (s *jobScope) fold(r Result) Result {
	if len(s.order) == 0 {
		return r
	}
	if r.Passed() {
		r.Summary = fmt.Sprintf("job %d: %s", s.run, r.Summary)
	}
	passed := []string{}
	var unjudged []string // other jobs this check could not judge (no-loss aside)
	if s.results == nil { // every other job's verdicts, computed once for all checks
		s.results = map[int64]map[string]Result{}
		for _, j := range s.order {
			s.results[j] = map[string]Result{}
			for _, c := range s.others[j] {
				o := c.Result()
				s.results[j][o.Name] = o
			}
		}
	}
	for _, j := range s.order {
		if o, ok := s.results[j][r.Name]; ok {
			if summedFigures[r.Name] {
				r.Figures = maps.Clone(r.Figures)
				for k, v := range o.Figures {
					r.Figures[k] += v
				}
			}
			if o.Passed() {
				passed = append(passed, strconv.FormatInt(j, 10))
				continue
			}
			tag := fmt.Sprintf("job %d: ", j)
			switch {
			case o.Failed():
				if !r.Failed() {
					r.OK, r.Summary, r.Why = boolp(false), "", ""
				}
				r.Violations += o.Violations
				r.Summary = strings.TrimPrefix(r.Summary+"; "+tag+o.Summary, "; ")
				for _, off := range o.Offending {
					if len(r.Offending) < MaxOffenses {
						off.Detail = tag + off.Detail
						r.Offending = append(r.Offending, off)
					}
				}
			case r.Name == "no-loss" && !r.Failed() && r.Why == "":
				// A job whose loss cannot be decided leaves the run undecided.
				r.OK, r.Why = nil, tag+o.Why
				r.Summary = "unknown: " + r.Why
			default:
				unjudged = append(unjudged, tag+o.Why)
			}
		}
	}
	if r.Passed() && len(passed) > 0 {
		word := "job"
		if len(passed) > 1 {
			word = "jobs"
		}
		r.Summary += fmt.Sprintf("; %s %s passed too", word, strings.Join(passed, ", "))
	}
	if len(unjudged) > 0 {
		r.Summary += "; not judged on " + strings.Join(unjudged, "; ")
	}
	return r
}

// summedFigures are the checks whose figures are counts over a job's tasks
// (published, stored, lost, …): folded, they count every job's.
var summedFigures = map[string]bool{"no-loss": true, "job-consistency": true}
