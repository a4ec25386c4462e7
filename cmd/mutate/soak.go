package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"
)

// soakPass runs a soak of o.soak against each survivor: one that fails it
// (resource-growth: its memory, goroutines or open files grew; or a job
// failed) twice, while the unmutated binary orig passes it, is caught.
// First orig must pass the soak, or a failure would prove nothing. It
// returns the survivors it did not catch (all of them with -soak 0).
func soakPass(ctx context.Context, o options, root, dir, tmp, orig string, survivors []mutant, w io.Writer) ([]mutant, int, error) {
	if o.soak == 0 {
		return survivors, 0, nil
	}
	fmt.Fprintf(w, "\nsoak pass: %d survivors, a soak of %s each\n", len(survivors), o.soak)
	if ok, by, err := soak(ctx, o, orig, filepath.Join(tmp, "soak-unmutated")); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("the unmutated tree fails the soak: %s; a mutant failing it would prove nothing", by)
		}
		return nil, 0, err
	}
	fmt.Fprintf(w, "the unmutated tree passes the soak (seed %d)\n", o.seed)
	bin := filepath.Join(tmp, "natschaos-soak")
	return eachSurvivor(ctx, w, "soak", survivors, func(i int, m mutant) (string, string, error) {
		if _, err := buildMutant(ctx, root, dir, tmp, bin, i, m); err != nil {
			return "", "", err // it compiled for the scenarios
		}
		verdict, by, err := soakTry(ctx, o, bin, orig, filepath.Join(tmp, fmt.Sprintf("soak-%d", i)))
		if err != nil {
			return "", "", fmt.Errorf("mutant %s: %w", m, err)
		}
		return verdict, by, nil
	})
}

// soakTry soaks bin: "caught" when it fails twice and orig passes right
// after, "passed the soak", or "unsure" (a failure that did not repeat, or
// orig's too).
func soakTry(ctx context.Context, o options, bin, orig, out string) (verdict, by string, err error) {
	run := func(b, out string) (bool, string, error) { return soak(ctx, o, b, out) }
	ok, by, err := run(bin, out)
	if err != nil || ok {
		return "passed the soak", "", err
	}
	doubt, err := confirm(run, bin, orig, out)
	switch {
	case err != nil:
		return "", "", err
	case doubt != "":
		return "unsure (" + by + ", but " + doubt + ")", "", nil
	}
	return "caught", by, nil
}

// soak runs bin's soak of o.soak with the run seed, bounded by twice its
// length and a minute for the drain.
func soak(ctx context.Context, o options, bin, out string) (ok bool, by string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*o.soak+time.Minute)
	defer cancel()
	return natschaos(ctx, bin, "soak", "soak", "--duration", o.soak.String(), "--report-every", "30s",
		"--seed", strconv.FormatInt(o.seed, 10), "--out", out)
}
