package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/protocol"
)

// Expectation is one row of the verification matrix (docs/verify.md): a
// known-bad variant, the built-in scenarios meant to expose it, and the
// invariants (docs/invariants.md, "Tripped by") of which at least one must
// fail on each of those scenarios.
type Expectation struct {
	Variant    string
	Scenarios  []string // built-in scenario names
	Invariants []string // checker names; any one failing catches the variant
	// Short marks the rows `verify --short` and `go test -short` run.
	Short bool
}

// Matrix rows: every known-bad variant of docs/protocol.md. docs/verify.md says
// why each scenario is the one, and which needed a change to catch its
// variant.
var VerificationMatrix = []Expectation{
	{Variant: protocol.VariantReserveOneByOne, Scenarios: []string{"batch-reserve-incident"},
		Invariants: []string{"orphaned", "stall", "round-trips", "tasks-latency"}, Short: true},
	{Variant: protocol.VariantReconnect, Scenarios: []string{"nats-down-slow"},
		Invariants: []string{"connection-leak", "connection-flood", "liveness"}},
	{Variant: protocol.VariantNoConnectTimeout, Scenarios: []string{"nats-blackhole"},
		Invariants: []string{"tasks-latency", "fast-503", "liveness"}},
	{Variant: protocol.VariantSwallowTimeout, Scenarios: []string{"nats-down"},
		Invariants: []string{"fast-503"}, Short: true},
	{Variant: protocol.VariantNoTerminalGuard, Scenarios: []string{"terminal-job"},
		Invariants: []string{"terminal-guard"}},
	{Variant: protocol.VariantAckBeforeSave, Scenarios: []string{"processor-crash"},
		Invariants: []string{"no-loss"}},
	{Variant: protocol.VariantRecreateStream, Scenarios: []string{"zombie-stream"},
		Invariants: []string{"terminal-guard"}},
	{Variant: protocol.VariantSlowAck, Scenarios: []string{"baseline"},
		Invariants: []string{"ack-in-time", "duplicates"}},
	{Variant: protocol.VariantLeakConnections, Scenarios: []string{"baseline"},
		Invariants: []string{"connection-leak"}},

	{Variant: protocol.VariantPooledStale, Scenarios: []string{"nats-restart"},
		Invariants: []string{"fast-503", "tasks-latency"}},
	{Variant: protocol.VariantConnectRetryOnRefused, Scenarios: []string{"nats-down", "nats-down-long"},
		Invariants: []string{"fast-503", "tasks-latency", "liveness"}},
	{Variant: protocol.VariantEmptyOnError, Scenarios: []string{"nats-down"},
		Invariants: []string{"fast-503"}},
	{Variant: protocol.VariantLateFetch, Scenarios: []string{"slow-fetch"},
		Invariants: []string{"orphaned", "stall"}},
	{Variant: protocol.VariantAckConnectionSetup, Scenarios: []string{"slow-results-link"},
		Invariants: []string{"ack-in-time", "duplicates"}},
	{Variant: protocol.VariantConsumerFirstCleanup, Scenarios: []string{"job-end-race"},
		Invariants: []string{"duplicates", "terminal-guard"}},
	{Variant: protocol.VariantSeenOnlyOnSuccess, Scenarios: []string{"nats-down"},
		Invariants: []string{"workers-seen"}},
	{Variant: protocol.VariantEarlySuccess, Scenarios: []string{"baseline"},
		Invariants: []string{"job-consistency"}},
	{Variant: protocol.VariantNoCleanup, Scenarios: []string{"baseline", "cleanup-outage"},
		Invariants: []string{"resource-cleanup"}},
	{Variant: "wrong-pipeline", Scenarios: []string{"multi-pipeline"},
		Invariants: []string{"pipeline"}},
}

// GoodVariants are the variants that must pass every scenario of the
// matrix: the reference behaviour and its pooled mode.
var GoodVariants = []string{protocol.VariantGood, protocol.VariantPooled}

// isGood says whether v is one of GoodVariants.
func isGood(v string) bool {
	for _, g := range GoodVariants {
		if g == v {
			return true
		}
	}
	return false
}

// Outcomes of a [Cell].
const (
	Caught       = "caught"      // a bad variant failed an expected invariant
	Missed       = "MISSED"      // a bad variant passed, or failed only unrelated invariants
	Passed       = "passed"      // the good variant passed
	FalseAlarm   = "FALSE ALARM" // the good variant failed
	HarnessError = "HARNESS ERROR"
)

// Cell is one run of the matrix: a variant on a scenario.
type Cell struct {
	Variant  string
	Scenario string
	Expected []string // invariants that must catch it; empty for the good variant
	Outcome  string   // Caught, Missed, Passed, FalseAlarm or HarnessError
	CaughtBy []string // the expected invariants that failed
	Failed   []string // every check that failed
	Err      error    // the harness error of a HarnessError cell
	Out      string   // the cell's results directory
	Duration time.Duration
	// Report is the cell's report; nil when the harness could not write one.
	Report *report.Report
}

// Good says whether the cell is what the matrix wants.
func (c Cell) Good() bool { return c.Outcome == Caught || c.Outcome == Passed }

// Text is the cell's verdict as the matrix prints it.
func (c Cell) Text() string {
	switch c.Outcome {
	case Caught:
		return "caught by " + strings.Join(c.CaughtBy, ", ")
	case Missed, FalseAlarm:
		if len(c.Failed) > 0 {
			return fmt.Sprintf("%s (failed only: %s)", c.Outcome, strings.Join(c.Failed, ", "))
		}
		return c.Outcome
	case HarnessError:
		// One line: a joined error's newlines would break the table.
		return fmt.Sprintf("%s: %s", c.Outcome, strings.ReplaceAll(fmt.Sprint(c.Err), "\n", "; "))
	}
	return c.Outcome
}

// Matrix is the result of [Verify].
type Matrix struct {
	Cells    []Cell
	Wall     time.Duration // wall time of the whole matrix
	Parallel int           // cells run at once
	Out      string
}

// OK says whether every bad variant was caught by an expected invariant and
// the good variants passed everything.
func (m Matrix) OK() bool {
	for _, c := range m.Cells {
		if !c.Good() {
			return false
		}
	}
	return len(m.Cells) > 0
}

// HarnessErrors lists the cells the harness could not run.
func (m Matrix) HarnessErrors() []Cell {
	var out []Cell
	for _, c := range m.Cells {
		if c.Outcome == HarnessError {
			out = append(out, c)
		}
	}
	return out
}

// Cell returns the cell of variant on scenario.
func (m Matrix) Cell(variant, scenario string) (Cell, bool) {
	for _, c := range m.Cells {
		if c.Variant == variant && c.Scenario == scenario {
			return c, true
		}
	}
	return Cell{}, false
}

// Print writes the matrix as a table, variant × scenario → outcome, with
// each cell's time, and a last line with the verdict and the wall time.
func (m Matrix) Print(w io.Writer) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tSCENARIO\tRESULT\tEXPECTED\tTIME")
	for _, c := range m.Cells {
		exp := strings.Join(c.Expected, " | ")
		if exp == "" {
			exp = "(pass)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1fs\n", c.Variant, c.Scenario, c.Text(), exp, c.Duration.Seconds())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	bad, caught, good, passed := 0, 0, 0, 0
	for _, c := range m.Cells {
		if isGood(c.Variant) {
			good++
			if c.Outcome == Passed {
				passed++
			}
		} else {
			bad++
			if c.Outcome == Caught {
				caught++
			}
		}
	}
	verdict := "OK"
	if !m.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "\nverify: %s: %d/%d bad cells caught, %d/%d good cells passed; %d cells in %.1fs wall time (%d at once); results in %s\n",
		verdict, caught, bad, passed, good, len(m.Cells), m.Wall.Seconds(), m.Parallel, m.Out)
	_, err := io.WriteString(w, b.String())
	return err
}

// VerifyOptions are the settings of [Verify].
type VerifyOptions struct {
	// Out receives one directory per cell, Out/<variant>/<scenario>, each
	// as `natschaos run` writes it.
	Out string
	// Parallel is how many cells run at once; 0 = the number of CPUs, at
	// most 4. Each cell is its own embedded stack on random ports.
	Parallel int
	// Short runs only the rows marked Short (and the good variant on their
	// scenarios).
	Short bool
	// Variants limits the matrix to these bad variants (nil = all).
	Variants []string
	// Seed overrides every scenario's seed when not 0.
	Seed int64
	// Logger receives the harness's log lines; nil is silent.
	Logger *slog.Logger
	// Progress, when set, receives one line per finished cell; with
	// Terminal also a line redrawn every second below them (elapsed,
	// cells done, each running cell's phase and active fault, how many
	// cells went wrong so far).
	Progress io.Writer
	Terminal bool
	// CommandLine is the command line, without secrets, recorded in each
	// cell's provenance.
	CommandLine []string
}

// Plan returns the cells [Verify] runs for o, in the order it prints them:
// each bad variant on its scenarios, then each of GoodVariants on every
// scenario of the plan. It fails on an unknown variant or scenario.
func Plan(o VerifyOptions) ([]Cell, error) {
	want := map[string]bool{}
	for _, v := range o.Variants {
		if !protocol.KnownVariant(v) || isGood(v) {
			return nil, &UsageError{fmt.Errorf("variant %q is not a known-bad variant", v)}
		}
		want[v] = true
	}
	var cells []Cell
	var scenarios []string
	seen := map[string]bool{}
	for _, e := range VerificationMatrix {
		if (o.Short && !e.Short) || (len(want) > 0 && !want[e.Variant]) {
			continue
		}
		for _, s := range e.Scenarios {
			if _, ok := Lookup(s); !ok {
				return nil, fmt.Errorf("verification matrix: %s: no built-in scenario %q", e.Variant, s)
			}
			cells = append(cells, Cell{Variant: e.Variant, Scenario: s, Expected: e.Invariants})
			if !seen[s] {
				seen[s] = true
				scenarios = append(scenarios, s)
			}
		}
	}
	for _, g := range GoodVariants {
		for _, s := range scenarios {
			cells = append(cells, Cell{Variant: g, Scenario: s})
		}
	}
	return cells, nil
}

// Verify runs the verification matrix: every known-bad variant on the
// scenarios meant to expose it and the good variants on all of them,
// Parallel cells at a time, judges each cell, and writes Out/index.html
// (the matrix, each cell linking its report.html). The error is for a plan
// that cannot run (or ctx ending); a cell the harness could not run is a
// HarnessError cell, and [Matrix.OK] is false.
func Verify(ctx context.Context, o VerifyOptions) (Matrix, error) {
	cells, err := Plan(o)
	if err != nil {
		return Matrix{}, err
	}
	par := o.Parallel
	if par <= 0 {
		par = min(runtime.NumCPU(), 4)
	}
	m := Matrix{Cells: cells, Parallel: par, Out: o.Out}
	start := time.Now()

	// Longest cells first, so that the pool does not end on a long one.
	order := make([]int, len(cells))
	for i := range order {
		order[i] = i
	}
	est := func(i int) time.Duration {
		sc, _ := Lookup(cells[i].Scenario)
		sc = sc.WithDefaults()
		d := sc.Warmup + sc.Chaos
		if !isGood(cells[i].Variant) {
			d += time.Duration(sc.SUT.MaxDeliver) * sc.SUT.AckWait // a bad variant tends to drain slowly
		}
		return d
	}
	sort.SliceStable(order, func(a, b int) bool { return est(order[a]) > est(order[b]) })

	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	running := map[int]*liveStats{}
	done, wrong := 0, 0
	var line *liveLine
	if o.Progress != nil {
		line = &liveLine{w: o.Progress, terminal: o.Terminal}
	}
	if line != nil && o.Terminal {
		pctx, stop := context.WithCancel(ctx)
		pdone := make(chan struct{})
		defer func() { stop(); <-pdone }()
		go func() {
			defer close(pdone)
			line.loop(pctx, 0, func() string {
				mu.Lock()
				defer mu.Unlock()
				return verifyLine(time.Since(start), done, len(cells), wrong, cells, running)
			}, nil)
		}()
	}
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				live := newLiveStats(nil)
				mu.Lock()
				running[i] = live
				mu.Unlock()
				c := runCell(ctx, cells[i], o, live)
				mu.Lock()
				delete(running, i)
				cells[i] = c
				done++
				if !c.Good() {
					wrong++
				}
				mu.Unlock()
				if line != nil {
					line.Println(fmt.Sprintf("  %-20s %-24s %s (%.1fs)", c.Variant, c.Scenario, c.Text(), c.Duration.Seconds()))
				}
			}
		}()
	}
	for _, i := range order {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	m.Wall = time.Since(start)
	if err := ctx.Err(); err != nil {
		return m, fmt.Errorf("verify interrupted: %w", err)
	}
	if err := report.WriteJSONFile(filepath.Join(o.Out, "verify.json"), m.File()); err != nil {
		return m, err
	}
	if err := writeMatrixIndex(o.Out, m.Cells); err != nil {
		return m, err
	}
	return m, nil
}

// verifyLine is verify's progress line.
func verifyLine(elapsed time.Duration, done, total, wrong int, cells []Cell, running map[int]*liveStats) string {
	ids := make([]int, 0, len(running))
	for i := range running {
		ids = append(ids, i)
	}
	sort.Ints(ids)
	var now []string
	for _, i := range ids {
		phase, fault := running[i].now()
		if fault == "none" {
			fault = ""
		} else {
			fault = " (" + fault + ")"
		}
		now = append(now, fmt.Sprintf("%s/%s %s%s", cells[i].Variant, cells[i].Scenario, phase, fault))
	}
	return fmt.Sprintf("verify %s  cells %d of %d done, %d not as expected so far  running: %s",
		elapsed.Truncate(time.Second), done, total, wrong, strings.Join(now, "; "))
}

// runCell runs one cell and judges it.
func runCell(ctx context.Context, c Cell, o VerifyOptions, live *liveStats) Cell {
	sc, _ := Lookup(c.Scenario)
	c.Out = filepath.Join(o.Out, c.Variant, c.Scenario)
	start := time.Now()
	rep, err := Run(ctx, sc, RunOptions{Out: c.Out, Seed: o.Seed, Variant: c.Variant, Logger: o.Logger, CommandLine: o.CommandLine, live: live})
	c.Duration = time.Since(start)
	c.Report = rep
	if err != nil && !errors.Is(err, ErrViolated) {
		c.Outcome, c.Err = HarnessError, err
		return c
	}
	if rep == nil || rep.HarnessError != "" {
		c.Outcome, c.Err = HarnessError, fmt.Errorf("%s: the run could not be judged", c.Scenario)
		if rep != nil {
			c.Err = errors.New(rep.HarnessError)
		}
		return c
	}
	return judge(c, rep)
}

// judge sets c's outcome from its report.
func judge(c Cell, rep *report.Report) Cell {
	c.Failed = rep.Failed()
	if isGood(c.Variant) {
		c.Outcome = Passed
		if rep.Verdict != report.Pass {
			c.Outcome = FalseAlarm
		}
		return c
	}
	c.CaughtBy = nil
	for _, f := range c.Failed {
		for _, e := range c.Expected {
			if f == e {
				c.CaughtBy = append(c.CaughtBy, f)
			}
		}
	}
	c.Outcome = Missed
	if len(c.CaughtBy) > 0 {
		c.Outcome = Caught
	}
	return c
}
