package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/chaos"
	"github.com/natschaos/natschaos/chaos/report"
	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/internal/syncio"
	"github.com/natschaos/natschaos/protocol"
)

func newSoakCmd() *cobra.Command {
	var (
		scenario, out, variant, jobSize, junit string
		pprofAddr                              string
		seed                                   int64
		o                                      chaos.SoakOptions
		verbose                                bool
		xf                                     runFlags // the external-mode flags run has, and --toxiproxy, --run-id
	)
	cmd := &cobra.Command{
		Use:   "soak --duration D [--scenario NAME|FILE] [--jobs-in-flight K] [--job-size MIN-MAX] [--task-rate R] ...",
		Short: "Run jobs continuously for a long time under repeating faults, judged as it goes",
		Long: `Soak runs the embedded stack for --duration: jobs are created continuously, --jobs-in-flight
at once, each of a size drawn (from the seed) in --job-size; the built-in workers poll
every job; --task-rate R paces the publishing to R tasks a second across the jobs
(the next job is created once the previous one is published); the scenario's fault schedule repeats every --fault-every (default: its
chaos phase plus max_deliver × ack_wait) for the whole duration. Each job is judged when it ends, over its own events (no-loss,
max-deliver, duplicates, redelivery-timing, ack-in-time, orphaned, stall,
terminal-guard), and its checker state dropped; tasks-latency, fast-503, liveness and
connection-flood are judged per --report-every interval; resource-growth looks for an
upward trend after warmup in connections per link, NATS memory, subscriptions and slow
consumers, and the natschaos process's RSS, open files and goroutines (the reference
API runs in it).

--out receives report.json and index.html (the page of the soak), rewritten at
every interval (a killed soak leaves its verdicts so far), scenario.yaml and history/, the history compressed (zstd) and
rotated per interval: natschaos check reads the directory. A progress line goes to
stderr (redrawn on a terminal, a line every 30 s otherwise); --metrics-addr serves
Prometheus metrics at /metrics. Ctrl-C heals every fault, judges the jobs that
finished and writes the final report (exit 3 unless a violation was found: 1).
External mode (--nats-url and --api-url, as for run): the proxies go in front of
the given NATS and API; every job is created through the API, the built-in workers
serve only the soak's jobs, the events of other jobs are dropped before the history,
and every job of the soak that has not ended is cancelled on the way out. A soak
creates its jobs: --job-id, --observe-publishes and --external-workers are run's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			stdout := cmd.OutOrStdout()
			stderr, terminal := progressTo(cmd.ErrOrStderr(), verbose)
			if variant != "" && !protocol.KnownVariant(variant) {
				return usageError{fmt.Errorf("--variant %q: unknown (known: %s)", variant, strings.Join(append(protocol.VariantNames(), protocol.SoakVariantNames()...), ", "))}
			}
			if o.Duration <= 0 {
				return usageError{errors.New("--duration is required and must be > 0 (e.g. --duration 2h)")}
			}
			if o.JobsInFlight < 1 {
				return usageError{fmt.Errorf("--jobs-in-flight %d: want ≥ 1", o.JobsInFlight)}
			}
			if cmd.Flags().Changed("task-rate") && !(o.TaskRate > 0 && o.TaskRate <= chaos.MaxTaskRate) {
				return usageError{fmt.Errorf("--task-rate %g: want > 0 and ≤ %d tasks a second", o.TaskRate, chaos.MaxTaskRate)}
			}
			var err error
			if o.JobSizeMin, o.JobSizeMax, err = parseRange(jobSize); err != nil {
				return usageError{fmt.Errorf("--job-size %q: %w", jobSize, err)}
			}
			xf.variant = variant
			external, err := xf.external(stderr, stderr)
			if err != nil {
				return err
			}
			sc, err := chaos.FindScenario(scenario)
			if err != nil {
				return err
			}
			if pprofAddr != "" {
				stop, err := servePprof(pprofAddr, stderr)
				if err != nil {
					return usageError{err}
				}
				defer stop()
			} else {
				// The heap profile nobody reads keeps a record per call stack
				// it ever sampled, never freed: in a soak, new stacks still
				// turn up after an hour (+0.6 MB in the first 10 minutes).
				runtime.MemProfileRate = 0
			}
			if out == "" {
				out = filepath.Join("natschaos-results", "soak-"+time.Now().Format("20060102-150405"))
			}
			o.RunOptions = chaos.RunOptions{Out: out, Seed: seed, Variant: variant, Logger: logger(verbose, stderr), CommandLine: commandLine(ctx), External: external}
			if xf.toxiproxy != "" {
				runID, err := xf.proxyRunID(external)
				if err != nil {
					return err
				}
				if o.Proxies, err = xf.remoteProxies(ctx, runID); err != nil {
					return err
				}
			}
			o.Progress, o.Terminal = stderr, terminal
			o.MetricsBound = func(addr string) { fmt.Fprintf(stderr, "natschaos: metrics on http://%s/metrics\n", addr) }
			target := orGood(variant, sc.SUT.Variant)
			if external != nil {
				target = "the external API " + harness.StripUser(external.APIURL)
			}
			fmt.Fprintf(stderr, "natschaos: soak %s of %s for %s; results in %s\n", sc.Name, target, o.Duration, out)
			rep, err := chaos.Soak(ctx, sc, o)
			if rep != nil {
				soakSummary(stdout, rep, out)
				if junit != "" {
					if jerr := rep.JUnit(out).Write(junit); jerr != nil {
						return errors.Join(err, fmt.Errorf("--junit: %w", jerr))
					}
				}
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&o.Duration, "duration", 0, "how long jobs are created (required), e.g. 2h; the jobs in flight then drain")
	fl.StringVarP(&scenario, "scenario", "s", "baseline", "built-in scenario name or scenario file: its SUT, workload and fault schedule (repeated every chaos phase)")
	fl.IntVar(&o.JobsInFlight, "jobs-in-flight", chaos.DefaultJobsInFlight, "jobs running at once")
	fl.StringVar(&jobSize, "job-size", fmt.Sprintf("%d-%d", chaos.DefaultJobSizeMin, chaos.DefaultJobSizeMax), "tasks per job: MIN-MAX (drawn uniformly from the seed) or N")
	fl.Float64Var(&o.TaskRate, "task-rate", 0, fmt.Sprintf("tasks published per second across the jobs (> 0, ≤ %d); jobs still sized by --job-size, created as the rate allows (default: each job's tasks at once)", chaos.MaxTaskRate))
	fl.DurationVar(&o.ReportEvery, "report-every", chaos.DefaultReportEvery, "report interval: window checks judged, report.json rewritten, history rotated")
	fl.DurationVar(&o.FaultEvery, "fault-every", 0, "period of the fault schedule (default: the chaos phase + max_deliver × ack_wait, a calm gap to recover)")
	fl.IntVar(&o.Workers, "workers", 0, "built-in workers (default: the scenario's)")
	fl.StringVar(&o.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464)")
	fl.Int64Var(&seed, "seed", 0, "seed of every random choice (default: the scenario's, else the clock)")
	fl.StringVarP(&out, "out", "o", "", "results directory (default ./natschaos-results/soak-<timestamp>)")
	fl.StringVar(&variant, "variant", "", "run the reference API as this variant (see natschaos sut --help; slow-leak is caught only by a soak)")
	fl.StringVar(&junit, "junit", "", "also write a JUnit XML file: a testsuite per failing job and per interval, a testcase per check, resource-growth")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log what the harness does")
	fl.StringVar(&pprofAddr, "pprof-addr", "", "serve the Go runtime's profiles at http://ADDR/debug/pprof/ (for natschaos's developers; without it the heap is not profiled)")
	_ = fl.MarkHidden("pprof-addr")
	xf.addTargetFlags(cmd, "soak", "the API and the first job's consumer")
	return cmd
}

func orGood(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return protocol.VariantGood
}

// parseRange parses "MIN-MAX" or "N".
func parseRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	if lo, err = strconv.Atoi(strings.TrimSpace(a)); err != nil {
		return 0, 0, errors.New("want MIN-MAX or N")
	}
	if hi, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
		return 0, 0, errors.New("want MIN-MAX or N")
	}
	if lo < 1 || hi < lo {
		return 0, 0, errors.New("want 1 ≤ MIN ≤ MAX")
	}
	return lo, hi, nil
}

// isTerminal says whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// soakSummary prints the final figures of a soak.
func soakSummary(w io.Writer, r *chaos.SoakReport, out string) {
	fmt.Fprintf(w, "soak %s (%s): %s", r.Scenario, orGood(r.Variant), r.Verdict)
	if r.Why != "" {
		fmt.Fprintf(w, " — %s", r.Why)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  ran        %.0fs of %.0fs%s\n", r.Elapsed, r.Duration, map[bool]string{true: " (interrupted)"}[r.Interrupted])
	fmt.Fprintf(w, "  jobs       %d judged: %d passed, %d failed, %d inconclusive; %d not judged (in flight)\n",
		r.Jobs.Judged, r.Jobs.Passed, r.Jobs.Failed, r.Jobs.Inconclusive, r.JobsInFlight)
	fmt.Fprintf(w, "  intervals  %d judged: %d passed, %d failed\n", r.Intervals.Judged, r.Intervals.Passed, r.Intervals.Failed)
	if g := r.ResourceGrowth; g != nil {
		fmt.Fprintf(w, "  growth     %s: %s\n", g.Verdict, g.Summary)
		for _, o := range g.Offending {
			fmt.Fprintf(w, "             %s\n", o.Detail)
		}
	}
	for i, j := range r.FailedJobs {
		if i == 5 {
			fmt.Fprintf(w, "  …          %d more in report.json\n", len(r.FailedJobs)-5)
			break
		}
		var names []string
		for _, c := range j.Checks {
			names = append(names, c.Name+": "+c.Summary)
		}
		fmt.Fprintf(w, "  job %-6d %s %s %s\n", j.Job, j.Verdict, j.Why, strings.Join(names, "; "))
	}
	for _, iv := range r.FailedIntervals {
		for _, c := range iv.Checks {
			if c.Verdict == report.Fail {
				fmt.Fprintf(w, "  interval %d (%.0f–%.0fs) %s: %s\n", iv.Index, iv.From, iv.To, c.Name, c.Summary)
			}
		}
	}
	fmt.Fprintf(w, "  tasks      %d published, %d stored; %d /tasks calls\n", r.TasksPublished, r.TasksStored, r.TasksCalls)
	if r.Foreign > 0 {
		fmt.Fprintf(w, "  foreign    %d events of other jobs on the same server were dropped before the history: not judged\n", r.Foreign)
	}
	fmt.Fprintf(w, "  cost       %.3f CPU s per 1,000 /tasks calls (the whole natschaos process); RSS %.1f MB\n", r.CPUPer1000TasksCalls, float64(r.RSSBytes)/(1<<20))
	fmt.Fprintf(w, "  history    %.1f MB compressed, %.0f bytes per task\n", float64(r.HistoryBytes)/(1<<20), r.HistoryBytesPerTask)
	fmt.Fprintf(w, "  results    %s\n", out)
}

// progressTo is where the progress line goes and whether it is redrawn:
// stderr, redrawn when it is a terminal and the log (--verbose) does not
// share it.
func progressTo(stderr io.Writer, verbose bool) (io.Writer, bool) {
	return &syncio.Writer{W: stderr}, isTerminal(stderr) && !verbose
}
