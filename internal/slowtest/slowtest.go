// Package slowtest is how a test that takes seconds to minutes (a real
// run, a soak, a cluster, a built binary) stands aside under `go test
// -short`, saying what it would have run.
package slowtest

import "testing"

// Skip skips t under -short; what says what the test would have run ("a
// 60 s soak", "builds natschaos").
func Skip(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: " + what)
	}
}
