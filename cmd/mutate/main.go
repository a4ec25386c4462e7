// Command mutate measures how many bugs nobody anticipated the scenarios
// catch: it generates single-point mutants of a package (by default the
// reference API, harness/api) with go/ast — a dropped Close or cancel, a
// context timeout dropped, a comparison inverted, a constant changed, an
// error check dropped, two processor statements swapped, a function that
// returns at once — builds natschaos with each one through `go build
// -overlay` (the working tree is never edited), runs a few fast scenarios
// against it and prints, per mutant, caught (a scenario did not pass) or
// missed, and the score.
//
//	go run ./cmd/mutate -max 20                     # `make mutation`
//	go run ./cmd/mutate -list                       # every mutant, none run
//
// Every scenario runs with the run seed -seed, so that a reader can repeat
// a measure. First the unmutated tree must pass every scenario (else the
// tool stops: a scenario that fails on its own catches nothing). A mutant
// that does not compile is stillborn and not counted. A scenario that fails
// (exit 1), is inconclusive (exit 3), crashes or runs past -timeout catches
// the mutant once confirmed: the mutant fails that scenario a second time
// and the unmutated tree, run again on it, passes. Otherwise (a timing false
// alarm under load) the catch does not count and the next scenario is
// tried; a mutant that only such scenarios failed is "unsure", not counted.
// The scenarios of one mutant stop at the first confirmed catch.
//
// Then each survivor is rebuilt with -race and run on -race-scenarios
// (by default api-restart and processor-crash): a data race the detector
// reports in a frame of the package catches it, printed apart ("caught by
// the race detector"). The detector needs no window hit, only the two
// unsynchronised accesses made in one run. First the unmutated tree, built
// with -race, must report no race in the package on those scenarios.
//
// Last, each survivor left runs a soak of -soak (100 s) on the embedded
// stack: a leak too slow for a scenario to see — a closed connection kept
// in a set, one per request — grows the process's memory past
// resource-growth's bound there. The unmutated tree must pass the same
// soak first; a catch is confirmed as a scenario's is.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// DefaultScenarios are fast and, between them, exercise every part of the
// API: the pipeline, the smallest job, an outage of each NATS link, a crash
// of a worker and of the processor, a cancel, and cuts and stalls inside
// /tasks's JetStream calls, a restart of the API, the API as one process of
// two threads, a result queue that fills, and a stream delete NATS never
// answers.
var DefaultScenarios = []string{"baseline", "single-task", "nats-cut-mid-call", "nats-down", "terminal-job", "processor-crash", "worker-crash",
	"cleanup-outage", "nats-blackhole", "nats-stall-mid-call", "api-restart", "api-threads", "result-queue-full", "cancel-in-outage", "cancel-unanswered", "create-in-outage"}

// RaceScenarios are run against each mutant that survived DefaultScenarios,
// rebuilt with the race detector: they restart the API under load and
// crash its result processor, where its goroutines meet (the processor's
// queue and connection as the API closes, the cleanup retry loop). A race
// the detector reports in the package counts as a catch; no window has to
// be hit, only the two unsynchronised accesses made.
var RaceScenarios = []string{"api-restart", "processor-crash"}

type options struct {
	root, pkg, out string
	max            int
	timeout        time.Duration
	seed           int64
	scenarios      []string
	list           bool
	only           string
	// raceScenarios are run against each survivor rebuilt with -race;
	// none = no race pass.
	raceScenarios []string
	raceTimeout   time.Duration
	soak          time.Duration // the soak pass's --duration; 0: none
}

func main() {
	var o options
	var scen string
	flag.StringVar(&o.root, "root", ".", "the module's root (where go.mod is)")
	flag.StringVar(&o.pkg, "pkg", "harness/api", "the package to mutate, relative to -root")
	flag.IntVar(&o.max, "max", 20, "how many mutants to run at most (drawn from every operator in turn)")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "per mutant: its build and scenarios")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the draw of mutants, and of every scenario run (natschaos run --seed)")
	flag.StringVar(&scen, "scenarios", strings.Join(DefaultScenarios, ","), "scenarios run against each mutant, in order")
	flag.BoolVar(&o.list, "list", false, "list every mutant and exit")
	flag.StringVar(&o.only, "only", "", "run only the mutants whose description contains this")
	var race string
	flag.StringVar(&race, "race-scenarios", strings.Join(RaceScenarios, ","), "scenarios run against each survivor rebuilt with -race (\"\" = no race pass)")
	flag.DurationVar(&o.raceTimeout, "race-timeout", 4*time.Minute, "per survivor: its -race build and race scenarios")
	flag.DurationVar(&o.soak, "soak", 100*time.Second, "per survivor: a soak this long on the embedded stack (0 = no soak pass)")
	flag.Parse()
	o.scenarios = strings.Split(scen, ",")
	if race != "" {
		o.raceScenarios = strings.Split(race, ",")
	}
	if o.max < 1 || o.timeout <= 0 || o.raceTimeout <= 0 || o.soak < 0 || len(o.scenarios) == 0 {
		fmt.Fprintln(os.Stderr, "mutate: -max, -timeout and -race-timeout must be > 0, -soak ≥ 0 and -scenarios not empty")
		os.Exit(2)
	}
	// Ctrl-C or SIGTERM: the scenario running is stopped (its process is
	// killed with the context) and the temporary directory removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, w io.Writer) error {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, o.pkg)
	all, err := enumerate(dir)
	if err != nil {
		return err
	}
	if o.list {
		for _, m := range all {
			fmt.Fprintln(w, m)
		}
		fmt.Fprintf(w, "%d mutants\n", len(all))
		return nil
	}
	picked := draw(all, o)
	tmp, err := os.MkdirTemp("", "natschaos-mutate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(w, "%d mutants of %s (%d drawn, seed %d); scenarios %s\n", len(all), o.pkg, len(picked), o.seed, strings.Join(o.scenarios, ","))
	orig, err := confirmUnmutated(ctx, o, root, tmp)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "the unmutated tree passes every scenario (seed %d)\n", o.seed)
	caught, missed, unsure, stillborn := 0, 0, 0, 0
	var survivors, unsures []mutant
	for i, m := range picked {
		start := time.Now()
		verdict, by, err := try(ctx, o, root, dir, tmp, orig, i, m)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted at mutant %d: %w", i+1, ctx.Err())
		}
		switch verdict {
		case "caught":
			caught++
		case "MISSED":
			missed++
			survivors = append(survivors, m)
		case "unsure":
			unsure++
			unsures = append(unsures, m)
		default:
			stillborn++
		}
		fmt.Fprintf(w, "%3d %-9s %-28s %s (%.0fs)\n", i+1, verdict, by, m, time.Since(start).Seconds())
	}
	// The passes after the scenarios, each on the survivors of the one
	// before; a pass that cannot be judged leaves the score as it was.
	raced, soaked := 0, 0
	for _, p := range []struct {
		name string
		n    *int
		run  func([]mutant) ([]mutant, int, error)
	}{
		{"race", &raced, func(s []mutant) ([]mutant, int, error) { return racePass(ctx, o, root, dir, tmp, s, w) }},
		{"soak", &soaked, func(s []mutant) ([]mutant, int, error) { return soakPass(ctx, o, root, dir, tmp, orig, s, w) }},
	} {
		if len(survivors) == 0 {
			break
		}
		still, n, err := p.run(survivors)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			fmt.Fprintf(w, "%s pass not counted: %v\n", p.name, err)
		default:
			survivors, *p.n = still, n
			caught += n
			missed -= n
		}
	}
	judged := caught + missed
	score := 0.0
	if judged > 0 {
		score = 100 * float64(caught) / float64(judged)
	}
	fmt.Fprintf(w, "\nmutation score: %d/%d caught (%.0f %%), %d of them by the race detector, %d by the soak; %d stillborn (do not compile); %d unsure (failures that did not repeat, or the unmutated tree's too)\n", caught, judged, score, raced, soaked, stillborn, unsure)
	for _, m := range survivors {
		fmt.Fprintf(w, "  survivor: %s\n", m)
	}
	for _, m := range unsures {
		fmt.Fprintf(w, "  unsure: %s\n", m)
	}
	return nil
}

// confirmUnmutated builds natschaos from the unmutated tree and runs every
// scenario against it: each must pass, or no catch on it would mean
// anything. It returns the binary, which try runs again to confirm a catch.
func confirmUnmutated(ctx context.Context, o options, root, tmp string) (string, error) {
	bin := filepath.Join(tmp, "natschaos-unmutated")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/natschaos")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the unmutated tree: %w: %s", err, out)
	}
	for _, s := range o.scenarios {
		// Twice at most: one timing false alarm on a loaded machine is
		// not the tree's fault; two in a row are.
		var failures []string
		for len(failures) < 2 {
			ok, by, err := scenarioFor(ctx, o.timeout, bin, s, o.seed, filepath.Join(tmp, "out-unmutated"))
			if err != nil {
				return "", err
			}
			if ok {
				break
			}
			failures = append(failures, by)
		}
		if len(failures) == 2 {
			return "", fmt.Errorf("the unmutated tree does not pass scenario %s (seed %d), twice: %s; a mutant it fails proves nothing (rerun, or drop it from -scenarios)", s, o.seed, strings.Join(failures, "; "))
		}
	}
	return bin, nil
}

// draw picks up to o.max mutants: within each operator, ordered by a hash
// of the seed and the mutant's identity (its file, operator and the text of
// the change, not its line or site number), then one of each operator in
// turn, so that every kind of bug is tried. A change elsewhere in the
// package renumbers the sites but leaves every mutant's identity, and so
// the draw, as it was: only a mutant the change added or removed can enter
// or leave it.
func draw(all []mutant, o options) []mutant {
	type keyed struct {
		m   mutant
		key uint64
	}
	by := map[string][]keyed{}
	seen := map[string]int{}
	for _, m := range all {
		if o.only != "" && !strings.Contains(m.String(), o.only) {
			continue
		}
		id := m.identity()
		// Two sites of one file with the same change (two `defer
		// cancel()`) are told apart by their order among themselves.
		k := seen[id]
		seen[id]++
		by[m.Op] = append(by[m.Op], keyed{m, drawKey(o.seed, fmt.Sprintf("%s\x00%d", id, k))})
	}
	for _, op := range operators {
		ms := by[op]
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].key < ms[j].key })
	}
	var out []mutant
	for len(out) < o.max {
		added := false
		for _, op := range operators {
			if len(by[op]) > 0 && len(out) < o.max {
				out = append(out, by[op][0].m)
				by[op] = by[op][1:]
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}

// drawKey is the place of a mutant of identity id in the seed's draw.
func drawKey(seed int64, id string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s", seed, id)
	return h.Sum64()
}

// try builds natschaos with m through an overlay and runs the scenarios
// against it: "caught" (by the scenario named, confirmed), "MISSED",
// "unsure" (failed only scenarios whose failure did not repeat, or that
// the unmutated binary orig failed too) or "stillborn".
func try(ctx context.Context, o options, root, dir, tmp, orig string, i int, m mutant) (verdict, by string, err error) {
	mctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	bin := filepath.Join(tmp, "natschaos")
	if out, err := buildMutant(mctx, root, dir, tmp, bin, i, m); err != nil {
		if mctx.Err() != nil {
			return "", "", fmt.Errorf("build of mutant %d ran past -timeout %s", i+1, o.timeout)
		}
		if out == "" {
			return "", "", err
		}
		first, _, _ := strings.Cut(out, "\n")
		if strings.HasPrefix(first, "#") {
			_, rest, _ := strings.Cut(out, "\n")
			first, _, _ = strings.Cut(rest, "\n")
		}
		return "stillborn", first, nil
	}
	var flaky []string
	for _, s := range o.scenarios {
		ok, by, err := scenario(mctx, bin, s, o.seed, filepath.Join(tmp, fmt.Sprintf("out-%d", i)))
		if err != nil {
			return "", "", fmt.Errorf("mutant %d: %w", i+1, err)
		}
		if ok {
			continue
		}
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		// Each run has its own -timeout: a mutant that hangs again must
		// not eat the unmutated run's time.
		doubt, err := confirm(func(b, out string) (bool, string, error) {
			return scenarioFor(ctx, o.timeout, b, s, o.seed, out)
		}, bin, orig, filepath.Join(tmp, fmt.Sprintf("out-%d", i)))
		if err != nil {
			return "", "", fmt.Errorf("mutant %d: confirm: %w", i+1, err)
		}
		if doubt == "" {
			return "caught", by, nil
		}
		flaky = append(flaky, by+" but "+doubt)
		if mctx.Err() != nil {
			break
		}
	}
	if len(flaky) > 0 {
		return "unsure", strings.Join(flaky, "; "), nil
	}
	return "MISSED", "", nil
}

// buildMutant builds natschaos with m (through an overlay: the tree is not
// edited) into bin, with extra go build flags (-race). When the build
// fails, out is the compiler's output; an error with no out is the tool's.
func buildMutant(ctx context.Context, root, dir, tmp, bin string, i int, m mutant, flags ...string) (out string, err error) {
	src, err := render(dir, m)
	if err != nil {
		return "", err
	}
	mfile := filepath.Join(tmp, fmt.Sprintf("mutant-%d.go", i))
	if err := os.WriteFile(mfile, src, 0o600); err != nil {
		return "", err
	}
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(dir, m.File): mfile}})
	ofile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ofile, ov, 0o600); err != nil {
		return "", err
	}
	args := append(append([]string{"build"}, flags...), "-overlay", ofile, "-o", bin, "./cmd/natschaos")
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = root
	b, err := build.CombinedOutput()
	if err != nil && len(b) == 0 {
		b = []byte(err.Error())
	}
	if err != nil {
		return string(b), fmt.Errorf("build mutant %d: %w", i+1, err)
	}
	return "", nil
}
