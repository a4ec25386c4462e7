package history

import "math/bits"

// Effects is a set of what a fault does to the system under test, in the
// words the checkers judge by. A fault's start event records its effects (the
// "effects" key, its names joined by commas: docs/history.md); the faults package
// declares them with each fault, and a checker reads them instead of fault
// names. The zero value is the empty set: a history written before faults
// recorded their effects.
type Effects uint32

// The effects a fault can have, each a set of one. The link-* effects are
// about the fault's own link; the others say what that means for the system.
const (
	// EffectLinkDown: connections on the fault's link are refused, held
	// without data, or reset.
	EffectLinkDown Effects = 1 << iota
	// EffectLinkSlow: data on the fault's link is delayed, throttled or
	// sliced, or the API's answers are held back.
	EffectLinkSlow
	// EffectLinkCut: connections on the fault's link are closed after some
	// bytes, partway through an exchange.
	EffectLinkCut
	// EffectNATSUnreachable: the API cannot reach NATS (api-nats down, held
	// or reset; NATS stopped or paused).
	EffectNATSUnreachable
	// EffectNATSCut: the API's NATS connections are cut partway through its
	// JetStream calls.
	EffectNATSCut
	// EffectNATSRestart: NATS restarts, and its redelivery timers with it.
	EffectNATSRestart
	// EffectAnswerInjected: some worker calls get an answer the API did
	// not give as it is (a status made up by the proxy, or a cut body).
	EffectAnswerInjected
	// EffectResponseLost: the API commits a worker call (tasks reserved,
	// results queued) whose response never reaches the worker.
	EffectResponseLost
	// EffectWorkerDies: a worker stops dead, holding the tasks it had.
	EffectWorkerDies
	// EffectProcessorDies: the API's result processor dies between storing
	// a result and acking it.
	EffectProcessorDies
	// EffectJobCancelled: the run's job is cancelled.
	EffectJobCancelled
	// EffectAPIRestart: the API stops — requests in progress cut, queued
	// results dropped — and starts again; nothing answers in between.
	EffectAPIRestart
	// EffectJobCreated: a second job of the run's own is created through
	// the API (and cancelled): a probe of its create, never given a task.
	EffectJobCreated
	// EffectRequestsDropped: NATS never receives some of what the clients
	// of the fault's link publish (the requests to one subject), so those
	// calls go unanswered while the connection stays up.
	EffectRequestsDropped
)

// effectNames are the names of the effects in the file, bit by bit.
var effectNames = []string{"link-down", "link-slow", "link-cut", "nats-unreachable", "nats-cut", "nats-restart",
	"answer-injected", "response-lost", "worker-dies", "processor-dies", "job-cancelled", "api-restart", "job-created",
	"requests-dropped"}

// AllEffects is the set of every known effect.
const AllEffects Effects = 1<<14 - 1

// Has reports whether s holds every effect of x.
func (s Effects) Has(x Effects) bool { return x != 0 && s&x == x }

// Names returns the name of each effect of s, in declaration order.
func (s Effects) Names() []string {
	var n []string
	for rest := s & AllEffects; rest != 0; rest &= rest - 1 {
		n = append(n, effectNames[bits.TrailingZeros32(uint32(rest))])
	}
	return n
}

// EffectNamed returns the effect named name; ok is false for a name this
// reader does not know (a newer writer's: readers ignore it).
func EffectNamed(name string) (e Effects, ok bool) {
	for i, n := range effectNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}
