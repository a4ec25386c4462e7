package chaos

import (
	"sort"
	"strings"
	"sync"

	"github.com/natschaos/natschaos/chaos/check"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/history"
)

// maxListed bounds the failing jobs and intervals a soak report lists (the
// counts are complete): the report stays small however long the soak.
const maxListed = 100

// SoakCheck is one check's verdict in a soak report.
type SoakCheck struct {
	Name       string             `json:"name"`
	Verdict    string             `json:"verdict"`
	Violations int                `json:"violations"`
	Summary    string             `json:"summary"`
	Offending  []check.Offense    `json:"offending,omitempty"`
	Figures    map[string]float64 `json:"figures,omitempty"`
}

func soakCheck(r check.Result) SoakCheck {
	v := report.Pass
	switch {
	case r.Failed():
		v = report.Fail
	case r.Unknown():
		v = report.Inconclusive
	}
	return SoakCheck{Name: r.Name, Verdict: v, Violations: r.Violations, Summary: r.Summary, Offending: r.Offending, Figures: r.Figures}
}

// JobVerdict is the verdict of one job of a soak: the checks that did not
// pass (all of them passed when the verdict is PASS).
type JobVerdict struct {
	Job       int64       `json:"job"`
	Verdict   string      `json:"verdict"`
	Why       string      `json:"why,omitempty"`
	Published int         `json:"published"`
	From      float64     `json:"from"` // seconds since the soak's start: its first event
	To        float64     `json:"to"`   // when it was judged
	Checks    []SoakCheck `json:"checks,omitempty"`
}

// IntervalVerdict is the verdict of one report interval's window checks.
type IntervalVerdict struct {
	Index   int         `json:"index"`
	From    float64     `json:"from"`
	To      float64     `json:"to"`
	Verdict string      `json:"verdict"`
	Checks  []SoakCheck `json:"checks"`
}

// Counts are how many jobs or intervals were judged, and how.
type Counts struct {
	Judged       int `json:"judged"`
	Passed       int `json:"passed"`
	Failed       int `json:"failed"`
	Inconclusive int `json:"inconclusive"`
}

func (c *Counts) add(verdict string) {
	c.Judged++
	switch verdict {
	case report.Pass:
		c.Passed++
	case report.Fail:
		c.Failed++
	default:
		c.Inconclusive++
	}
}

// jobSet is the checker state of one job in flight: dropped once judged.
type jobSet struct {
	checkers  []check.Checker
	published int
	from      float64
}

// soakJudge routes a soak's events, as they are recorded, to the checker set
// of their job, to the window checks of the current report interval and
// to resource-growth. Its memory is the checker state of the jobs in flight
// and of one interval, plus a bounded list of what failed.
type soakJudge struct {
	p      check.Params
	growth *check.ResourceGrowth
	live   *liveStats

	mu   sync.Mutex // guards everything below: the recorder's tap and the driver both call in
	jobs map[int64]*jobSet
	// maxJudged is the highest job id judged: job ids grow with creation
	// and a job's set exists from its first event (its creation), so an
	// unknown id up to it is a job already judged. (No set of judged ids:
	// memory stays flat however many jobs a soak runs.)
	maxJudged int64
	cfg       *history.Event
	ev        history.Event // the event being observed (see Observe)
	win       []check.Checker
	winFrom   float64
	winIndex  int
	last      float64

	jobCounts, winCounts Counts
	failedJobs           []JobVerdict
	failedWins           []IntervalVerdict
	byCheck              map[string]int
	late                 int // events of a job already judged
	// probes are the jobs the harness created to probe the API (create_job
	// faults): judged by the contract check alone, never as soak jobs.
	probes map[int64]bool
}

func newSoakJudge(p check.Params, g check.GrowthParams, live *liveStats) *soakJudge {
	return &soakJudge{p: p, growth: check.NewResourceGrowth(g), live: live, jobs: map[int64]*jobSet{},
		win: check.Window(p), byCheck: map[string]int{}, probes: map[int64]bool{}}
}

// Observe takes the next event of the history (the recorder's tap: in
// history order).
func (j *soakJudge) Observe(ev history.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	// The checkers see the event through j.ev, not &ev: a pointer to the
	// parameter would move every event to the heap (2–3 MB a second of
	// garbage at the default rate). No checker keeps the pointer (check.Run
	// hands them pointers into batches it reuses).
	j.ev = ev
	e := &j.ev
	j.last = max(j.last, e.T)
	j.live.observe(e)
	if e.Kind == history.KindConfig && j.cfg == nil {
		c := *e
		j.cfg = &c
	}
	for _, c := range j.win {
		c.Observe(e)
	}
	j.growth.Observe(e)
	id := history.JobOf(e)
	if p, ok := history.ProbeJob(e); ok {
		j.probes[p] = true
		delete(j.jobs, p) // the set its creation gave it
	}
	if j.probes[id] {
		return
	}
	if id == 0 {
		switch e.Kind {
		case history.KindFault, history.KindServer, history.KindPhase:
			for _, s := range j.jobs {
				for _, c := range s.checkers {
					c.Observe(e)
				}
			}
		}
		return
	}
	s := j.jobs[id]
	if s == nil && id <= j.maxJudged {
		j.late++
		return
	}
	if s == nil {
		s = &jobSet{checkers: check.PerJob(j.p), from: e.T}
		j.jobs[id] = s
	}
	if e.Kind == history.KindPublish {
		s.published++
	}
	for _, c := range s.checkers {
		c.Observe(e)
	}
}

// judgeJob judges job id over the events seen so far, as if its history
// ended at now, and drops its state. timedOut says the job never finished.
func (j *soakJudge) judgeJob(id int64, now float64, timedOut bool) JobVerdict {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := JobVerdict{Job: id, Verdict: report.Pass, From: now, To: now}
	s := j.jobs[id]
	delete(j.jobs, id)
	j.maxJudged = max(j.maxJudged, id)
	if s == nil || s.published == 0 {
		v.Verdict, v.Why = report.Inconclusive, "no task of the job was ever stored in its stream"
		j.record(&v)
		return v
	}
	v.From, v.Published = s.from, s.published
	end := history.Event{T: now, Kind: history.KindPhase, Name: history.PhaseEnd}
	for _, c := range s.checkers {
		c.Observe(&end)
		r := c.Result()
		switch {
		case r.Failed():
			v.Verdict = report.Fail
			j.byCheck[r.Name] += max(r.Violations, 1)
			j.live.violation(r.Name, max(r.Violations, 1))
			if r.Name == "no-loss" {
				j.live.lost(int(r.Figures["lost"]))
			}
		case r.Unknown() && r.Name == "no-loss" && v.Verdict == report.Pass:
			v.Verdict, v.Why = report.Inconclusive, "no-loss could not decide: "+r.Why
		default:
			if r.Passed() {
				continue
			}
		}
		v.Checks = append(v.Checks, soakCheck(r))
	}
	if timedOut && v.Verdict == report.Pass {
		v.Why = "judged before the job finished (it ran past its time limit)"
	}
	j.record(&v)
	return v
}

func (j *soakJudge) record(v *JobVerdict) {
	j.jobCounts.add(v.Verdict)
	j.live.jobJudged(v.Verdict)
	if v.Verdict != report.Pass && len(j.failedJobs) < maxListed {
		j.failedJobs = append(j.failedJobs, *v)
	}
}

// closeInterval judges the window checks over the interval that ends at
// now and starts the next one.
func (j *soakJudge) closeInterval(now float64) IntervalVerdict {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.winIndex++
	v := IntervalVerdict{Index: j.winIndex, From: j.winFrom, To: now, Verdict: report.Pass}
	for _, c := range j.win {
		r := c.Result()
		if r.Failed() {
			v.Verdict = report.Fail
			j.byCheck[r.Name] += max(r.Violations, 1)
			j.live.violation(r.Name, max(r.Violations, 1))
		}
		v.Checks = append(v.Checks, soakCheck(r))
	}
	j.winCounts.add(v.Verdict)
	if v.Verdict != report.Pass && len(j.failedWins) < maxListed {
		j.failedWins = append(j.failedWins, v)
	}
	j.win, j.winFrom = check.Window(j.p), now
	if j.cfg != nil {
		for _, c := range j.win {
			c.Observe(j.cfg)
		}
	}
	return v
}

// snapshot fills in the judged part of a soak report.
func (j *soakJudge) snapshot(r *SoakReport) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r.Jobs, r.Intervals = j.jobCounts, j.winCounts
	r.JobsInFlight = len(j.jobs)
	r.FailedJobs = append([]JobVerdict(nil), j.failedJobs...)
	r.FailedIntervals = append([]IntervalVerdict(nil), j.failedWins...)
	r.ViolationsByCheck = map[string]int{}
	for k, v := range j.byCheck {
		r.ViolationsByCheck[k] = v
	}
	g := soakCheck(j.growth.Result())
	r.ResourceGrowth = &g
	r.LateEvents = j.late
}

// failingChecks names the checks with violations, sorted.
func (r *SoakReport) failingChecks() string {
	names := make([]string, 0, len(r.ViolationsByCheck))
	for n := range r.ViolationsByCheck {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
