package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// scenarioFor is scenario within a timeout of its own.
func scenarioFor(ctx context.Context, timeout time.Duration, bin, s string, seed int64, out string) (bool, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return scenario(ctx, bin, s, seed, out)
}

// scenario runs natschaos bin on scenario s with seed: ok when it passed,
// else by says how it failed. err is a harness problem (bin did not start).
func scenario(ctx context.Context, bin, s string, seed int64, out string) (ok bool, by string, err error) {
	return natschaos(ctx, bin, s, "run", "-s", s, "--seed", strconv.FormatInt(seed, 10), "-o", out)
}

// natschaos runs bin with args, s naming the run in by.
func natschaos(ctx context.Context, bin, s string, args ...string) (ok bool, by string, err error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = filepath.Dir(bin)
	outb, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return false, s + " (hung)", nil
	case err == nil:
		return true, "", nil
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false, s + " (" + failedChecks(string(outb)) + ")", nil
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		return false, s + " (inconclusive)", nil
	case errors.As(err, &ee):
		// A built-in scenario is never a usage error: the binary
		// crashed the process (a Go fatal error exits 2).
		return false, fmt.Sprintf("%s (crashed, exit %d)", s, ee.ExitCode()), nil
	}
	return false, "", fmt.Errorf("natschaos %s: %w: %s", strings.Join(args, " "), err, outb)
}

// confirm runs again a run that failed bin: the failure counts ("") when
// bin fails it again and the unmutated binary orig, run right after (same
// load, same seed), passes it; else the failure may be the machine's (a
// timing check under load), and confirm says why it doubts it. out is the
// first run's results directory; the reruns write beside it.
func confirm(run func(bin, out string) (ok bool, by string, err error), bin, orig, out string) (doubt string, err error) {
	again, _, err := run(bin, out+"-again")
	if err != nil || again {
		return "passed it again", err
	}
	origOK, origBy, err := run(orig, out+"-unmutated")
	if err != nil || origOK {
		return "", err
	}
	return "unmutated " + origBy, nil
}

// failedChecks pulls the names of the failed checks out of run's output,
// or the series that grew out of soak's.
func failedChecks(out string) string {
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && f[1] == "FAIL" && f[0] != "scenario" && strings.Trim(f[0], "abcdefghijklmnopqrstuvwxyz-0123456789") == "":
			names = append(names, f[0])
		case len(f) >= 3 && f[2] == "grew":
			names = append(names, f[0]+" "+f[1]+" grew")
		}
	}
	if len(names) == 0 {
		return "failed"
	}
	return strings.Join(names, ",")
}
