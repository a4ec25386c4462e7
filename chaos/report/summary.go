package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/natschaos/natschaos/chaos/check"
)

// MaxOffendingShown is how many offending events Summary prints per failed check.
const MaxOffendingShown = 3

// Summary prints the report as a terminal table: one line per check (name,
// ok, violations, summary), then, for each failed check, its first
// offending events (time, task, reply subject, what was wrong).
func (r *Report) Summary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s (variant %s, seed %d): %s\n", r.Scenario, orDash(r.Variant), r.Seed, r.VerdictLine())
	if r.Proves != "" {
		fmt.Fprintf(&b, "  proves: %s\n", r.Proves)
	}
	if r.HarnessError != "" {
		fmt.Fprintf(&b, "  HARNESS PROBLEM, the run was not judged: %s\n", r.HarnessError)
	}
	for _, why := range r.Inconclusive {
		fmt.Fprintf(&b, "  cannot pass: %s\n", why)
	}
	fmt.Fprintf(&b, "  %d events over %.1fs; tasks: %d published, %d stored, %d lost, %d dead-lettered, %d duplicated; %d redeliveries, %d orphaned, longest stall %.2fs\n",
		r.Events, r.DurationSeconds, r.Tasks.Published, r.Tasks.Stored, r.Tasks.Lost, r.Tasks.DeadLettered, r.Tasks.Duplicates,
		r.Redeliveries, r.Orphaned, r.MaxStallSeconds)
	if r.Foreign > 0 {
		fmt.Fprintf(&b, "  %d events of other jobs on the same server were dropped at the source (foreign): not judged\n", r.Foreign)
	}
	for _, f := range r.Faults {
		end := "never healed"
		if f.End != nil {
			end = fmt.Sprintf("%.2fs", *f.End)
		}
		fmt.Fprintf(&b, "  fault %s on %s: %.2fs – %s\n", f.Name, orDash(f.Link), f.Start, end)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCHECK\tOK\tVIOLATIONS\tSUMMARY")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", c.Name, okMark(c.OK, r.Strict), c.Violations, oneLine(c.Summary))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Checks {
		if c.OK == nil || *c.OK || len(c.Offending) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s: %d violations; first offending:\n", c.Name, c.Violations)
		writeOffending(&b, c.Offending, MaxOffendingShown, "  ", "  %s\n    %s\n")
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\nwarnings:\n")
		for _, s := range r.Warnings {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// VerdictLine is the verdict as the terminal shows it: "PASS", "PASS (2
// unknown)", "FAIL" or "INCONCLUSIVE".
func (r *Report) VerdictLine() string {
	v := strings.ToUpper(r.Verdict)
	if n := len(r.Unknown()); r.Verdict == Pass && n > 0 {
		v += fmt.Sprintf(" (%d unknown)", n)
	}
	return v
}

// Suite prints one line per report (scenario, variant, seed, verdict, the
// checks that failed and those that could not decide) and a last line with
// the suite's verdict, which it returns: fail if any report failed.
func Suite(w io.Writer, reports []*Report) (string, error) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tVARIANT\tSEED\tVERDICT\tFAILED\tUNKNOWN")
	failed, inconclusive := 0, 0
	for _, r := range reports {
		why := strings.Join(r.Failed(), ",")
		if r.HarnessError != "" {
			why = "harness: " + oneLine(r.HarnessError)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Scenario, orDash(r.Variant), r.Seed, strings.ToUpper(r.Verdict),
			orDash(why), orDash(strings.Join(r.Unknown(), ",")))
		switch r.Verdict {
		case Fail:
			failed++
		case Inconclusive:
			inconclusive++
		}
	}
	verdict := SuiteVerdict(reports)
	if err := tw.Flush(); err != nil {
		return Fail, err
	}
	fmt.Fprintf(&b, "suite: %s (%d of %d scenarios failed, %d inconclusive)\n", strings.ToUpper(verdict), failed, len(reports), inconclusive)
	_, err := io.WriteString(w, b.String())
	return verdict, err
}

func okMark(ok *bool, strict bool) string {
	switch {
	case ok == nil && strict:
		return "UNKNOWN(strict)"
	case ok == nil:
		return "unknown"
	case *ok:
		return "ok"
	}
	return "FAIL"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// writeOffending writes the first limit offending events to b, each as
// format (with where and the detail on one line) says, then how many more
// report.json holds, indented by indent.
func writeOffending(b *strings.Builder, offending []check.Offense, limit int, indent, format string) {
	for i, o := range offending {
		if i == limit {
			fmt.Fprintf(b, "%s… %d more in report.json\n", indent, len(offending)-i)
			return
		}
		fmt.Fprintf(b, format, where(o), oneLine(o.Detail))
	}
}

// where names an offending event: "t=1.234s task=... reply=...", without
// the parts it has not.
func where(o check.Offense) string {
	s := fmt.Sprintf("t=%.3fs", o.T)
	if o.Task != "" {
		s += " task=" + o.Task
	}
	if o.Reply != "" {
		s += " reply=" + o.Reply
	}
	return s
}
