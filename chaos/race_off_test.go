//go:build !race

package chaos

// raceDetector is true when the tests run under -race, which slows the
// embedded stacks several times over.
const raceDetector = false
