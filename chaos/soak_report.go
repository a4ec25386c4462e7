package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/natschaos/natschaos/chaos/report"
)

// SoakReport is a soak's report.json: rewritten at every report interval,
// so that a soak killed half-way leaves the verdicts so far.
type SoakReport struct {
	Kind        string  `json:"kind"` // "soak"
	Scenario    string  `json:"scenario"`
	Variant     string  `json:"variant"`
	Seed        int64   `json:"seed"`
	Verdict     string  `json:"verdict"`
	Why         string  `json:"why,omitempty"`
	Final       bool    `json:"final"`       // false while the soak runs
	Interrupted bool    `json:"interrupted"` // stopped by a signal before its duration
	Elapsed     float64 `json:"elapsed_seconds"`
	Duration    float64 `json:"duration_seconds"`

	Jobs              Counts            `json:"jobs"`
	JobsInFlight      int               `json:"jobs_in_flight"` // not judged (yet)
	JobCreateErrors   int               `json:"job_create_errors,omitempty"`
	Intervals         Counts            `json:"intervals"`
	ViolationsByCheck map[string]int    `json:"violations_by_check"`
	FailedJobs        []JobVerdict      `json:"failed_jobs,omitempty"` // the first 100 jobs that did not pass
	FailedIntervals   []IntervalVerdict `json:"failed_intervals,omitempty"`
	LastInterval      *IntervalVerdict  `json:"last_interval,omitempty"`
	ResourceGrowth    *SoakCheck        `json:"resource_growth"`
	LateEvents        int               `json:"late_events,omitempty"` // events of jobs already judged (ignored)
	// Foreign is, in external mode, how many events of jobs the soak did
	// not create (or already judged) were dropped before the history.
	Foreign int `json:"foreign,omitempty"`

	TasksPublished int64 `json:"tasks_published"`
	TasksStored    int64 `json:"tasks_stored"`
	TasksCalls     int64 `json:"tasks_calls"`
	// CPUPer1000TasksCalls is the CPU seconds (user + system) natschaos
	// spent per 1,000 /tasks calls: the whole process, embedded NATS, API,
	// proxies, workers and checkers included.
	CPUPer1000TasksCalls float64 `json:"cpu_seconds_per_1000_tasks_calls"`
	RSSBytes             uint64  `json:"rss_bytes"`
	HistoryBytes         int64   `json:"history_bytes"`
	HistoryBytesPerTask  float64 `json:"history_bytes_per_task"`

	Settings   SoakSettings       `json:"settings"`
	Provenance *report.Provenance `json:"provenance,omitempty"`
}

// SoakSettings are the soak's own settings, as used.
type SoakSettings struct {
	JobsInFlight int     `json:"jobs_in_flight"`
	JobSizeMin   int     `json:"job_size_min"`
	JobSizeMax   int     `json:"job_size_max"`
	ReportEvery  float64 `json:"report_every_seconds"`
	JobTimeout   float64 `json:"job_timeout_seconds"`
	Workers      int     `json:"workers"`
	TaskRate     float64 `json:"task_rate,omitempty"` // tasks a second; 0 = unpaced
	Cycle        float64 `json:"fault_cycle_seconds"` // the schedule repeats every cycle
}

// ExitError is the error of a finished soak report: nil for PASS, wrapping
// ErrViolated for FAIL and ErrInconclusive for INCONCLUSIVE.
func (r *SoakReport) ExitError() error {
	switch r.Verdict {
	case report.Pass:
		return nil
	case report.Fail:
		return fmt.Errorf("soak %s: %w: %s", r.Scenario, ErrViolated, r.Why)
	}
	return fmt.Errorf("soak %s: %w: %s", r.Scenario, ErrInconclusive, r.Why)
}

// write writes the report atomically (a temporary file renamed over it),
// then index.html beside it.
func (r *SoakReport) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("soak report: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write soak report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write soak report: %w", err)
	}
	return r.WriteIndex(filepath.Join(filepath.Dir(path), IndexHTML))
}

// decide sets the verdict: FAIL on any violation (a job, an interval,
// resource-growth); else INCONCLUSIVE when the soak was cut short, a job
// could not be decided or none was judged; else PASS.
func (r *SoakReport) decide() {
	var why []string
	if r.Jobs.Failed > 0 {
		why = append(why, fmt.Sprintf("%d of %d jobs failed", r.Jobs.Failed, r.Jobs.Judged))
	}
	if r.Intervals.Failed > 0 {
		why = append(why, fmt.Sprintf("%d of %d intervals failed", r.Intervals.Failed, r.Intervals.Judged))
	}
	if len(why) > 0 {
		why[len(why)-1] += " (" + r.failingChecks() + ")"
	}
	if g := r.ResourceGrowth; g != nil && g.Verdict == report.Fail {
		why = append(why, "resource-growth: "+g.Summary)
	}
	if len(why) > 0 {
		r.Verdict, r.Why = report.Fail, strings.Join(why, "; ")
		return
	}
	switch {
	case !r.Final:
		r.Verdict, r.Why = report.Inconclusive, "the soak is still running"
	case r.Interrupted:
		r.Verdict, r.Why = report.Inconclusive, fmt.Sprintf("the soak was stopped after %.0fs of %.0fs", r.Elapsed, r.Duration)
	case r.Jobs.Judged == 0:
		r.Verdict, r.Why = report.Inconclusive, "no job was judged"
	case r.Jobs.Inconclusive > 0:
		r.Verdict, r.Why = report.Inconclusive, fmt.Sprintf("%d jobs could not be decided", r.Jobs.Inconclusive)
	default:
		r.Verdict, r.Why = report.Pass, ""
	}
}

// report closes the current interval and builds the report so far.
func (s *soak) report(final, interrupted bool) *SoakReport {
	v := s.j.closeInterval(s.rec.Since())
	s.mu.Lock()
	s.interval = &v
	createErrs := s.createErrs
	s.mu.Unlock()
	version := s.version.get()
	st := SoakSettings{JobsInFlight: s.o.JobsInFlight, JobSizeMin: s.o.JobSizeMin, JobSizeMax: s.o.JobSizeMax,
		ReportEvery: s.o.ReportEvery.Seconds(), JobTimeout: s.o.JobTimeout.Seconds(), Workers: s.sc.Workload.Workers,
		TaskRate: s.o.TaskRate}
	if len(s.sc.Windows()) > 0 {
		st.Cycle = s.cycle().Seconds()
	}
	r := &SoakReport{Kind: "soak", Scenario: s.sc.Name, Variant: s.sc.SUT.Variant, Seed: s.sc.Seed,
		Final: final, Interrupted: interrupted, Elapsed: time.Since(s.start).Seconds(), Duration: s.o.Duration.Seconds(),
		JobCreateErrors: createErrs, LastInterval: &v, Settings: st,
		TasksPublished: s.live.published.Load(), TasksStored: s.live.stored.Load(), TasksCalls: s.live.tasksCalls.Load(),
		RSSBytes: rss()}
	s.j.snapshot(r)
	if s.jobs != nil {
		r.Foreign = s.jobs.Foreign()
	}
	if s.o.External != nil {
		r.Variant = "external" // whatever runs at the API URL
	}
	if r.TasksCalls > 0 {
		r.CPUPer1000TasksCalls = (cpuTime() - s.cpu0).Seconds() / float64(r.TasksCalls) * 1000
	}
	r.HistoryBytes, r.HistoryBytesPerTask = s.historyBytes(r.TasksPublished)
	r.Provenance = report.NewProvenance(s.start, s.sc.Seed, version, s.o.CommandLine)
	r.decide()
	return r
}

// historyBytes is the size of the history on disk, and per task published.
func (s *soak) historyBytes(tasks int64) (int64, float64) {
	var n int64
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	if tasks == 0 {
		return n, 0
	}
	return n, float64(n) / float64(tasks)
}
