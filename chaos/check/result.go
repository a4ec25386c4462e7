package check

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/natschaos/natschaos/history"
)

// Checker is one invariant, judged over a stream of events.
//
// Observe is called once per event, in history order; the event is only
// valid during the call (a checker copies what it keeps). Result is called
// once, after the last event.
type Checker interface {
	// Name is the check's name in docs/invariants.md ("no-loss", "stall", ...).
	Name() string
	// Observe feeds the next event of the history.
	Observe(e *history.Event)
	// Result is the verdict over every event observed.
	Result() Result
}

// Check runs c over a history held in memory and returns its result.
func Check(c Checker, events []history.Event) Result {
	for i := range events {
		c.Observe(&events[i])
	}
	return c.Result()
}

// MaxOffenses is how many offending events a [Result] lists at most; the
// count of every violation is in Result.Violations.
const MaxOffenses = 5

// Offense is one offending delivery or event, for a report to point at.
type Offense struct {
	Task   string  `json:"task,omitempty"`
	Reply  string  `json:"reply,omitempty"`
	T      float64 `json:"t"` // seconds since the run's start
	Detail string  `json:"detail"`
}

// Result is a checker's verdict.
type Result struct {
	Name string
	// OK is true (held), false (violated) or nil (unknown: Why says what was
	// missing to decide).
	OK         *bool
	Violations int
	Summary    string // one line
	Why        string // why the verdict is unknown; empty otherwise
	Offending  []Offense
	// Figures are the measures behind the verdict (lost, orphaned,
	// stall_seconds, ...): seconds for times, counts otherwise.
	Figures map[string]float64
}

// Passed reports whether the check held (false for unknown).
func (r Result) Passed() bool { return r.OK != nil && *r.OK }

// Failed reports whether the check was violated (false for unknown).
func (r Result) Failed() bool { return r.OK != nil && !*r.OK }

// Unknown reports whether the checker could not decide.
func (r Result) Unknown() bool { return r.OK == nil }

// String is a one-line rendering: "name: ok|FAIL|unknown (n) summary".
func (r Result) String() string {
	v := "unknown"
	switch {
	case r.Passed():
		v = "ok"
	case r.Failed():
		v = "FAIL"
	}
	s := fmt.Sprintf("%s: %s (%d) %s", r.Name, v, r.Violations, r.Summary)
	if r.Why != "" && !strings.Contains(r.Summary, r.Why) {
		s += " [" + r.Why + "]"
	}
	return s
}

// NothingToJudge is the summary of a check that passed because the run gave
// it nothing to judge (a fact about the run, not missing evidence).
const NothingToJudge = "nothing to judge"

func boolp(b bool) *bool { return &b }

// result builds a Result with the verdict decided by violations.
func (n named) result(o *offenses, figs map[string]float64, summary string) Result {
	return Result{Name: string(n), OK: boolp(o.n == 0), Violations: o.n, Summary: summary, Offending: o.list, Figures: figs}
}

// unknown builds the Result of a check that could not decide, saying why.
func (n named) unknown(why string, figs map[string]float64) Result {
	return Result{Name: string(n), Summary: "unknown: " + why, Why: why, Figures: figs}
}

// nothing builds the passing Result of a check the run gave nothing to judge.
func (n named) nothing(why string, figs map[string]float64) Result {
	s := NothingToJudge
	if why != "" {
		s += ": " + why
	}
	return Result{Name: string(n), OK: boolp(true), Summary: s, Figures: figs}
}

// offenses counts violations and keeps the first MaxOffenses of them.
type offenses struct {
	n    int
	list []Offense
}

func (o *offenses) add(task, reply string, t float64, format string, a ...any) {
	o.n++
	if len(o.list) < MaxOffenses {
		o.list = append(o.list, Offense{Task: task, Reply: reply, T: t, Detail: fmt.Sprintf(format, a...)})
	}
}

// sortOffenses orders offenses by time, then task (map iteration is random).
func sortOffenses(o []Offense) {
	slices.SortFunc(o, func(a, b Offense) int { return cmp.Or(cmp.Compare(a.T, b.T), cmp.Compare(a.Task, b.Task)) })
}
