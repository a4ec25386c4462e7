package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// racePass rebuilds each survivor with -race and runs the race scenarios
// against it: a data race the detector reports in the package (a frame of
// one of its files) catches the mutant, whatever the scenario's verdict
// (the race build is slower, and timing checks may fail on it: they are
// not read). First the unmutated tree, built with -race, must report no
// race in the package on the same scenarios, or a race would prove
// nothing. It returns the survivors it did not catch (all of them with no
// -race-scenarios).
func racePass(ctx context.Context, o options, root, dir, tmp string, survivors []mutant, w io.Writer) ([]mutant, int, error) {
	if len(o.raceScenarios) == 0 {
		return survivors, 0, nil
	}
	fmt.Fprintf(w, "\nrace pass: %d survivors rebuilt with -race, on %s\n", len(survivors), strings.Join(o.raceScenarios, ","))
	bin := filepath.Join(tmp, "natschaos-unmutated-race")
	build := exec.CommandContext(ctx, "go", "build", "-race", "-o", bin, "./cmd/natschaos")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, 0, fmt.Errorf("build the unmutated tree with -race: %w: %s", err, out)
	}
	for _, s := range o.raceScenarios {
		rctx, cancel := context.WithTimeout(ctx, o.raceTimeout)
		where, err := raced(rctx, bin, s, o.seed, filepath.Join(tmp, "out-unmutated-race"), dir, tmp)
		cancel()
		if err != nil {
			return nil, 0, err
		}
		if where != "" {
			return nil, 0, fmt.Errorf("the unmutated tree built with -race reports a data race in %s on scenario %s (seed %d), at %s: a bug of the package to fix first; a race in a mutant would prove nothing", o.pkg, s, o.seed, where)
		}
	}
	fmt.Fprintf(w, "the unmutated tree built with -race reports no race in %s\n", o.pkg)
	return eachSurvivor(ctx, w, "race detector", survivors, func(i int, m mutant) (string, string, error) {
		return raceTry(ctx, o, root, dir, tmp, i, m)
	})
}

// eachSurvivor runs try on each survivor of a pass named by (the race
// detector, the soak): one whose verdict is "caught" counts, the others
// it returns, each printed with its verdict.
func eachSurvivor(ctx context.Context, w io.Writer, by string, survivors []mutant, try func(int, mutant) (verdict, by string, err error)) (still []mutant, caught int, err error) {
	for i, m := range survivors {
		start := time.Now()
		verdict, how, err := try(i, m)
		if err != nil {
			return nil, 0, err
		}
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("interrupted in the pass of the %s: %w", by, ctx.Err())
		}
		if verdict == "caught" {
			caught++
			fmt.Fprintf(w, "    caught by the %s: %s, %s (%.0fs)\n", by, how, m, time.Since(start).Seconds())
			continue
		}
		still = append(still, m)
		fmt.Fprintf(w, "    %s: %s (%.0fs)\n", verdict, m, time.Since(start).Seconds())
	}
	return still, caught, nil
}

// raceTry builds m with -race and runs the race scenarios until one
// reports a race in the package: "caught" (by: the scenario and where),
// "no race" or "race build failed" (-race-timeout, or it did not compile).
func raceTry(ctx context.Context, o options, root, dir, tmp string, i int, m mutant) (verdict, by string, err error) {
	mctx, cancel := context.WithTimeout(ctx, o.raceTimeout)
	defer cancel()
	bin := filepath.Join(tmp, "natschaos-race")
	if out, err := buildMutant(mctx, root, dir, tmp, bin, i, m, "-race"); err != nil {
		if out == "" && mctx.Err() == nil {
			return "", "", err
		}
		return "no race (its -race build failed or ran past -race-timeout)", "", nil
	}
	for _, s := range o.raceScenarios {
		where, err := raced(mctx, bin, s, o.seed, filepath.Join(tmp, fmt.Sprintf("out-%d-race", i)), dir, tmp)
		if err != nil {
			return "", "", fmt.Errorf("mutant %s: %w", m, err)
		}
		if where != "" {
			if strings.HasPrefix(where, "mutant-") {
				_, line, _ := strings.Cut(where, ":")
				where = m.File + ":" + line
			}
			return "caught", s + " (race at " + where + ")", nil
		}
		if mctx.Err() != nil {
			return "no race (ran past -race-timeout)", "", nil
		}
	}
	return "no race", "", nil
}

// raced runs the -race binary bin on scenario s and returns where the first
// data race it reports touches the package in dir (file:line of the first
// frame in one of its files, the mutated file included), or "" when no
// reported race does. The scenario's own verdict is not read.
func raced(ctx context.Context, bin, s string, seed int64, out, dir, tmp string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "run", "-s", s, "--seed", strconv.FormatInt(seed, 10), "-o", out)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0")
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && ctx.Err() == nil {
		return "", fmt.Errorf("natschaos run -s %s: %w: %s", s, err, b)
	}
	return raceIn(string(b), dir, filepath.Join(tmp, "mutant-")), nil
}

// raceIn finds, in a -race binary's output, the first DATA RACE report one
// of whose frames is a file of dir (or a mutant's file, whose path starts
// with mutants: the overlay put it in its place), and returns that frame's
// file:line.
func raceIn(out, dir, mutants string) string {
	in := false
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "WARNING: DATA RACE"):
			in = true
		case strings.HasPrefix(t, "=================="):
			in = false
		case in:
			path, _, _ := strings.Cut(t, " ")
			file, line, ok := strings.Cut(path, ".go:")
			if !ok {
				continue
			}
			file += ".go"
			inPkg := filepath.Dir(file) == dir && !strings.HasSuffix(file, "_test.go")
			if inPkg || strings.HasPrefix(file, mutants) {
				return filepath.Base(file) + ":" + line
			}
		}
	}
	return ""
}
