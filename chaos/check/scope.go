package check

import (
	"strconv"
	"strings"

	"github.com/natschaos/natschaos/chaos/history"
)

// jobScoped says whether a checker judges one job — its tasks, its
// deliveries, its consumer and its status — rather than the whole API.
// In a history with several jobs (a run with more jobs in flight than its
// own, of other pipelines) such a checker judges the run's job alone.
func jobScoped(c Checker) bool {
	switch c.(type) {
	case *NoLoss, *MaxDeliver, *Duplicates, *RedeliveryTiming, *AckInTime, *Orphaned, *Stall,
		*TerminalGuard, *AckPendingBound, *JobConsistency, *ResourceCleanup:
		return true
	}
	return false
}

// jobScope feeds its checkers the events of the run's job only: the run's
// job is that of the first config event (its stream job_<id>); an event
// that belongs (by [JobOf]) to another job the history announced — by a
// job event or a config event — is not fed. Until a second job is
// announced every event goes through, so a history of one job is judged
// exactly as without the scope; an event naming a job the history never
// announced (an image id that merely looks like "<n>-<m>") goes through too.
type jobScope struct {
	checkers []Checker
	run      int64          // the run's job; 0 until the first config event names it
	known    map[int64]bool // jobs announced by job or config events
}

func newJobScope(cs []Checker) *jobScope { return &jobScope{checkers: cs, known: map[int64]bool{}} }

// Observe implements observer.
func (s *jobScope) Observe(e *history.Event) {
	switch e.Kind {
	case history.KindConfig:
		if id, ok := jobOfStream(e.Stream); ok {
			s.known[id] = true
			if s.run == 0 {
				s.run = id
			}
		}
	case history.KindJob:
		if e.Job != 0 {
			s.known[e.Job] = true
		}
	}
	if s.run != 0 && len(s.known) > 1 {
		if id := JobOf(e); id != 0 && id != s.run && s.known[id] {
			return
		}
	}
	for _, c := range s.checkers {
		c.Observe(e)
	}
}

// jobOfStream is the job id of a stream named job_<id>.
func jobOfStream(stream string) (int64, bool) {
	id, ok := strings.CutPrefix(stream, "job_")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}
