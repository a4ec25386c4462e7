package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEnumerateAndRender: every operator finds its sites in a sample file,
// code that only a variant runs is left alone, and each mutant renders to
// a file that parses and differs from the original in one place.
func TestEnumerateAndRender(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "sample.go.txt"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "processor.go"), src, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "processor_test.go"), src, 0o600)) // never mutated

	all, err := enumerate(dir)
	require.NoError(t, err)
	ops := map[string]int{}
	for _, m := range all {
		require.Equal(t, "processor.go", m.File)
		ops[m.Op]++
		if m.Op == opDropClose {
			require.Contains(t, m.What, "defer", "the body of `if a.beh.bad` is variant-only")
		}
	}
	require.Equal(t, 2, ops[opDropClose], "defer c.Close(), defer cancel(); not the variant's c.Close()")
	require.Equal(t, 1, ops[opNoTimeout])
	require.Equal(t, 1, ops[opDropErr])
	require.Equal(t, 2, ops[opInvertCond], "err != nil, n > 0")
	require.Equal(t, 1, ops[opReturnEarly], "log has no results; serve has")
	require.Positive(t, ops[opSwap])
	require.Equal(t, 2, ops[opConstant], "2 and 0")

	for _, m := range all {
		out, err := render(dir, m)
		require.NoError(t, err, m.String())
		_, err = parser.ParseFile(token.NewFileSet(), "x.go", out, 0)
		require.NoError(t, err, m.String())
		require.NotEqual(t, normalize(string(src)), normalize(string(out)), m.String())
	}
	_, err = render(dir, mutant{File: "processor.go", Op: opNoTimeout, N: 5})
	require.ErrorContains(t, err, "no site 5")
}

func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestDrawTakesEveryOperatorInTurn(t *testing.T) {
	var all []mutant
	for _, op := range operators {
		for i := range 3 {
			all = append(all, mutant{File: "f.go", Op: op, N: i})
		}
	}
	got := draw(all, options{max: len(operators) + 1, seed: 1})
	require.Len(t, got, len(operators)+1)
	for i, op := range operators {
		require.Equal(t, op, got[i].Op)
	}
	require.Len(t, draw(all, options{max: 1000, seed: 1}), len(all))
}

func TestFailedChecks(t *testing.T) {
	out := "scenario baseline (variant good, seed 1): FAIL\nno-loss            FAIL  1   x\nstall   FAIL  1  y\nliveness ok 0 z\n"
	require.Equal(t, "no-loss,stall", failedChecks(out))
	require.Equal(t, "failed", failedChecks("nothing"))
}

// The same seed draws the same mutants, run after run (a measure a reader
// can repeat).
func TestDrawIsRepeatable(t *testing.T) {
	var all []mutant
	for _, op := range operators {
		for i := range 20 {
			all = append(all, mutant{File: "f.go", Op: op, N: i})
		}
	}
	first := draw(append([]mutant(nil), all...), options{max: 30, seed: 7})
	for range 20 {
		require.Equal(t, first, draw(append([]mutant(nil), all...), options{max: 30, seed: 7}))
	}
}

// Code only a known-bad variant runs is not mutated: the body of `if
// a.beh.x` (and of `a.beh.x && c`), a function only such code calls (its
// own recursion aside), the methods of a type only such code builds; the
// body of `if !a.beh.x` is the good API's, and is.
func TestVariantOnlyCodeIsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "variant.go.txt"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "api.go"), src, 0o600))
	_, _, _, only, err := parseDir(dir)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"newPool": true, "take": true, "onlyBad": true}, only)
	all, err := enumerate(dir)
	require.NoError(t, err)
	var got []string
	for _, m := range all {
		got = append(got, m.String())
	}
	require.Equal(t, []string{
		"api.go:24 invert-cond: if a.p != nil → ==",
		"api.go:22 constant: 2 → 3",
		"api.go:14 return-early: func serve returns at once",
	}, got)
}

// Swapping a statement with an `if a.beh.x { … }` (no else) changes
// nothing in the good API, where that if does nothing: no such swap is
// drawn; a swap of two of the good API's statements is.
func TestSwapPastVariantOnlyIfIsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	src := `package sample

type api struct {
	beh  struct{ slow bool }
	n, m int
}

func (a *api) store() {
	a.n = 1
	if a.beh.slow {
		a.m = 2
	}
	a.m = a.n
	a.n = 0
}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "processor.go"), []byte(src), 0o600))
	all, err := enumerate(dir)
	require.NoError(t, err)
	var swaps []string
	for _, m := range all {
		if m.Op == opSwap {
			swaps = append(swaps, m.String())
		}
	}
	require.Equal(t, []string{"processor.go:13 swap: swap a.m = a.n ⇄ a.n = 0"}, swaps)
}

// A change elsewhere in the package (lines moved, a site added before the
// others of its operator, so every site after it renumbered) leaves the
// draw as it was: the mutants drawn are the same ones, but for the new
// mutant itself when it is drawn, in place of one of its operator.
func TestDrawIsStableAcrossEdits(t *testing.T) {
	var before []mutant
	for _, op := range operators {
		for i := range 20 {
			before = append(before, mutant{File: "f.go", Op: op, N: i, Line: 10 + i, What: fmt.Sprintf("change %d of %s", i, op)})
		}
	}
	// Two sites with the same change are two mutants.
	before = append(before, mutant{File: "f.go", Op: opDropClose, N: 20, Line: 40, What: "change 3 of " + opDropClose})
	ids := func(ms []mutant) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.identity())
		}
		sort.Strings(out)
		return out
	}
	for seed := range int64(10) {
		added := mutant{File: "f.go", Op: opSwap, N: 0, Line: 3, What: "a new swap"}
		after := []mutant{added}
		for _, m := range before {
			m.Line += 7
			if m.Op == opSwap {
				m.N++
			}
			after = append(after, m)
		}
		o := options{max: 15, seed: seed}
		got, want := draw(after, o), draw(before, o)
		require.Len(t, got, 15)
		if !slices.ContainsFunc(got, func(m mutant) bool { return m.What == added.What }) {
			require.Equal(t, ids(want), ids(got), "seed %d", seed)
			continue
		}
		// The new swap took the place of the last swap drawn before.
		var lastSwap int
		for i, m := range want {
			if m.Op == opSwap {
				lastSwap = i
			}
		}
		want = slices.Delete(want, lastSwap, lastSwap+1)
		got = slices.DeleteFunc(got, func(m mutant) bool { return m.What == added.What })
		require.Equal(t, ids(want), ids(got), "seed %d", seed)
	}
	// Another seed draws others.
	require.NotEqual(t, ids(draw(before, options{max: 15, seed: 1})), ids(draw(before, options{max: 15, seed: 2})))
}

// raceIn finds the first data race one of whose frames is a file of the
// package (not a test), or of the mutant's file the overlay put in its
// place; races elsewhere do not count.
func TestRaceIn(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "race.txt"))
	require.NoError(t, err)
	out := string(b)
	require.Equal(t, "mutant-3.go:327", raceIn(out, "/ROOT/harness/api", "/TMP/mutant-"))
	require.Equal(t, "processor.go:346", raceIn(out, "/ROOT/harness/api", "/elsewhere/mutant-"))
	require.Equal(t, "worker.go:431", raceIn(out, "/ROOT/harness/worker", "/TMP/mutant-"))
	require.Empty(t, raceIn(out, "/ROOT/harness/observe", "/elsewhere/mutant-"))
	require.Empty(t, raceIn(strings.ReplaceAll(out, "WARNING: DATA RACE", "a log line"), "/ROOT/harness/api", "/TMP/mutant-"), "frames outside a race report")
}
