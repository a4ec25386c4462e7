// Package report turns the results of the checkers into what people and CI
// read: report.json (README.md and natschaos --help), a terminal summary
// per scenario, and a table for a suite of scenarios. It knows nothing of
// how the run happened: only its history's results and the metadata the
// caller passes in.
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/natschaos/natschaos/chaos/check"
)

// Verdicts of a [Report].
const (
	// Pass: every check held (or, unless strict, could not decide — but
	// never no-loss), and the history reached its end phase.
	Pass = "pass"
	// Fail: some check was violated, or, in strict mode, could not decide.
	Fail = "fail"
	// Inconclusive: the run cannot be judged — the harness could not run
	// or drive load (HarnessError set), the history has no end phase (a
	// killed run), or no-loss could not decide (tasks still in flight when
	// the drain was cut short). Never a pass; a violation seen in a run
	// cut short is still a Fail.
	Inconclusive = "inconclusive"
)

// Exit codes of the command line.
const (
	ExitPass         = 0
	ExitFail         = 1
	ExitInconclusive = 3
)

// Meta is what the caller knows of the run that the history does not say.
type Meta struct {
	Scenario    string
	Description string // one line: what the scenario does
	Proves      string // one line: what a pass proves
	Seed        int64
	Variant     string // the system under test's variant ("good", "reserve-one-by-one", ...)
	// Strict makes a check that could not decide fail the verdict.
	Strict bool
	// HarnessError, when set, is why the harness itself could not run the
	// scenario (a port, a crash); it is reported alongside the assumption
	// failures of the history.
	HarnessError string
}

// Report is report.json.
type Report struct {
	Scenario     string `json:"scenario"`
	Description  string `json:"description,omitempty"`
	Proves       string `json:"proves,omitempty"`
	Seed         int64  `json:"seed"`
	Variant      string `json:"variant"`
	Verdict      string `json:"verdict"`
	HarnessError string `json:"harness_error,omitempty"`
	// Inconclusive says what kept a judged run from a full verdict (no
	// end phase, no-loss unknown); the verdict is inconclusive unless a
	// check failed.
	Inconclusive    []string           `json:"inconclusive,omitempty"`
	Strict          bool               `json:"strict,omitempty"`
	Checks          []Check            `json:"checks"`
	Tasks           Tasks              `json:"tasks"`
	Redeliveries    int                `json:"redeliveries"`
	Orphaned        int                `json:"orphaned"`
	StallSeconds    float64            `json:"stall_seconds"`
	MaxStallSeconds float64            `json:"max_stall_seconds"`
	DurationSeconds float64            `json:"duration_seconds"`
	Events          int                `json:"events"`
	Foreign         int                `json:"foreign"` // events of other jobs the observers dropped at the source
	Faults          []Fault            `json:"faults"`
	Tolerances      map[string]float64 `json:"tolerances"`
	Warnings        []string           `json:"warnings,omitempty"`
	// Provenance is which build ran what, when; absent in reports written
	// before it existed.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Check is one checker's verdict in a report; OK is null when it could not
// decide.
type Check struct {
	Name       string             `json:"name"`
	OK         *bool              `json:"ok"`
	Violations int                `json:"violations"`
	Summary    string             `json:"summary"`
	Why        string             `json:"why,omitempty"`
	Offending  []check.Offense    `json:"offending,omitempty"`
	Figures    map[string]float64 `json:"figures,omitempty"`
}

// Tasks is the fate of the run's tasks.
type Tasks struct {
	Published    int `json:"published"`
	Stored       int `json:"stored"`
	Lost         int `json:"lost"`
	DeadLettered int `json:"dead_lettered"`
	InFlight     int `json:"in_flight"`  // NATS could still deliver them when the history ended
	Duplicates   int `json:"duplicates"` // tasks processed more than once
}

// Fault is a fault window, in seconds since the run's start; End is null
// when the fault never ended in the history.
type Fault struct {
	Name  string   `json:"name"`
	Link  string   `json:"link,omitempty"`
	Start float64  `json:"start"`
	End   *float64 `json:"end"`
}

// New builds the report of one run from its results.
func New(m Meta, rs check.Results) *Report {
	r := &Report{
		Scenario: m.Scenario, Description: m.Description, Proves: m.Proves, Seed: m.Seed, Variant: m.Variant,
		Strict: m.Strict, DurationSeconds: rs.Duration, Events: rs.Events, Foreign: rs.Foreign, Tolerances: rs.Params.Table(),
		Warnings: append([]string(nil), rs.Warnings...), Checks: []Check{}, Faults: []Fault{},
	}
	for _, c := range rs.Checks {
		r.Checks = append(r.Checks, Check{Name: c.Name, OK: c.OK, Violations: c.Violations, Summary: c.Summary,
			Why: c.Why, Offending: c.Offending, Figures: finite(c.Figures)})
	}
	for _, f := range rs.Faults {
		x := Fault{Name: f.Name, Link: f.Link, Start: f.Start}
		if !f.Open {
			end := f.End
			x.End = &end
		}
		r.Faults = append(r.Faults, x)
	}
	fig := func(check, name string) float64 {
		if c, ok := rs.Get(check); ok {
			if v, ok := c.Figures[name]; ok && !math.IsNaN(v) {
				return v
			}
		}
		return 0
	}
	r.Tasks = Tasks{
		Published: int(fig("no-loss", "published")), Stored: int(fig("no-loss", "stored")), Lost: int(fig("no-loss", "lost")),
		DeadLettered: int(fig("no-loss", "dead_lettered")), InFlight: int(fig("no-loss", "in_flight")),
		Duplicates: int(fig("duplicates", "duplicates")),
	}
	r.Redeliveries = int(fig("redelivery-timing", "redeliveries"))
	r.Orphaned = int(fig("orphaned", "orphaned"))
	r.StallSeconds = fig("stall", "stall_seconds")
	r.MaxStallSeconds = fig("stall", "max_stall_seconds")

	harness := append([]string(nil), rs.Assumptions...)
	if m.HarnessError != "" {
		harness = append([]string{m.HarnessError}, harness...)
	}
	for i, h := range harness {
		if i > 0 {
			r.HarnessError += "; "
		}
		r.HarnessError += h
	}
	r.Inconclusive = rs.Inconclusive()
	r.Verdict = r.verdict()
	return r
}

// finite drops NaN and infinite figures, which JSON cannot carry.
func finite(m map[string]float64) map[string]float64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}

// verdict: inconclusive when the harness could not run or drive load;
// else fail when a check was violated; else inconclusive when the run was
// cut short or no-loss could not decide; else fail when strict and a check
// could not decide; else pass.
func (r *Report) verdict() string {
	if r.HarnessError != "" {
		return Inconclusive
	}
	for _, c := range r.Checks {
		if c.OK != nil && !*c.OK {
			return Fail
		}
	}
	if len(r.Inconclusive) > 0 {
		return Inconclusive
	}
	if r.Strict && len(r.Unknown()) > 0 {
		return Fail
	}
	return Pass
}

// Why is why the verdict is inconclusive (empty for another verdict).
func (r *Report) Why() string {
	if r.Verdict != Inconclusive {
		return ""
	}
	if r.HarnessError != "" {
		return r.HarnessError
	}
	return strings.Join(r.Inconclusive, "; ")
}

// ExitCode is the process exit code for this report: 0 pass, 1 an
// invariant was violated, 3 inconclusive.
func (r *Report) ExitCode() int {
	switch r.Verdict {
	case Pass:
		return ExitPass
	case Fail:
		return ExitFail
	}
	return ExitInconclusive
}

// Failed lists the names of the checks that make the verdict fail.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if c.OK != nil && !*c.OK || c.OK == nil && r.Strict {
			out = append(out, c.Name)
		}
	}
	return out
}

// Unknown lists the names of the checks that could not decide.
func (r *Report) Unknown() []string {
	var out []string
	for _, c := range r.Checks {
		if c.OK == nil {
			out = append(out, c.Name)
		}
	}
	return out
}

// MarshalIndent returns the report as indented JSON.
func (r *Report) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report %s: %w", r.Scenario, err)
	}
	return append(b, '\n'), nil
}

// WriteJSON writes the report to path (report.json), replacing it.
func (r *Report) WriteJSON(path string) error {
	b, err := r.MarshalIndent()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// Read loads a report.json written by [Report.WriteJSON].
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	return &r, nil
}
