package api

import (
	"fmt"
	"sort"
	"strings"
)

// The variants of docs/protocol.md "Known-bad variants", selected by [Config.Variant].
const (
	VariantGood             = "good"
	VariantReserveOneByOne  = "reserve-one-by-one"
	VariantReconnect        = "reconnect"
	VariantNoConnectTimeout = "no-connect-timeout"
	VariantSwallowTimeout   = "swallow-timeout"
	VariantNoTerminalGuard  = "no-terminal-guard"
	VariantAckBeforeSave    = "ack-before-save"
	VariantRecreateStream   = "recreate-stream"
	VariantSlowAck          = "slow-ack"
	VariantLeakConnections  = "leak-connections"
)

// The variants of docs/protocol.md "More variants": the pooled mode (good) and
// the weak spots of the platform's task-queue code.
const (
	VariantPooled                = "pooled"
	VariantPooledStale           = "pooled-stale"
	VariantConnectRetryOnRefused = "connect-retry-on-refused"
	VariantEmptyOnError          = "empty-on-error"
	VariantLateFetch             = "late-fetch"
	VariantAckConnectionSetup    = "ack-connection-setup"
	VariantConsumerFirstCleanup  = "consumer-first-cleanup"
	VariantSeenOnlyOnSuccess     = "seen-only-on-success"
	VariantWrongPipeline         = "wrong-pipeline"
)

// Variants of the job lifecycle (job-consistency, resource-cleanup).
const (
	VariantEarlySuccess = "early-success"
	VariantNoCleanup    = "no-cleanup"
)

// Variant names one behaviour of the reference API: the good one, or a
// known bug that the harness must catch.
type Variant struct {
	Name        string // the value of Config.Variant
	Description string // one line, for `natschaos sut --help`
}

// behaviour is what a variant switches on. Every known-bad variant sets
// exactly one field (pooled-stale: pooled and poolStale); the good variant
// sets none, the pooled one only pooled.
type behaviour struct {
	oneByOne       bool // /tasks: N single pulls, each with its own metadata calls
	reconnect      bool // default client reconnect; connections leaked when a request is interrupted
	noTimeouts     bool // no connect timeout, no timeout on JetStream metadata calls
	swallowErrors  bool // NATS trouble in /tasks answers 200 {"tasks": []}
	noGuard        bool // /tasks serves jobs that are not STARTED/RETRY
	ackBeforeSave  bool // the processor acks before storing
	recreateStream bool // /tasks recreates a missing stream
	slowAck        bool // the processor acks after 1.5 x ack_wait
	leakConns      bool // a request's NATS connection is never closed

	pooled        bool // request handlers share a bounded pool of connections (good)
	poolStale     bool // ... that keeps (reconnecting) dead connections instead of replacing them
	retryRefused  bool // a refused connect is retried (60 x 2s) although reconnect is off
	emptyOnError  bool // a non-timeout NATS error in /tasks answers 200 {"tasks": []}
	lateFetch     bool // the fetch stops on a client timer, dropping deliveries still on the wire
	ackSetup      bool // every ack opens its own connection and ensures the advisories stream first
	consumerFirst bool // cleanup deletes the consumer, then the stream
	seenLate      bool // a worker is marked seen only after its call succeeded
	slowLeak      bool // a goroutine and a subscription leaked every 100 /tasks requests
	earlySuccess  bool // a job becomes SUCCESS one result before its total
	noCleanup     bool // a finished or cancelled job's stream is never deleted

	ignorePipeline bool // the job list ignores pipeline__slug__in
}

var variants = []struct {
	Variant
	b behaviour
}{
	{Variant{VariantGood, "the reference behaviour of docs/protocol.md: one pull per /tasks, no reconnect, timeouts, fast 503, ack last"}, behaviour{}},
	{Variant{VariantReserveOneByOne, "/tasks reserves N tasks with N single pulls, each with stream info, consumer info, a new pull subscription, fetch(1), unsubscribe"}, behaviour{oneByOne: true}},
	{Variant{VariantReconnect, "NATS client with default reconnect (60 attempts, 2s apart); connections of interrupted requests are left open"}, behaviour{reconnect: true}},
	{Variant{VariantNoConnectTimeout, "no NATS connect timeout (1h) and no timeout on JetStream metadata calls: hangs on a half-open NATS"}, behaviour{noTimeouts: true}},
	{Variant{VariantSwallowTimeout, "a NATS timeout or error during /tasks answers 200 {\"tasks\": []} instead of 503"}, behaviour{swallowErrors: true}},
	{Variant{VariantNoTerminalGuard, "/tasks serves tasks of jobs that are finished, cancelled or not started"}, behaviour{noGuard: true}},
	{Variant{VariantAckBeforeSave, "the result processor acks before storing: a crash between the two loses the result"}, behaviour{ackBeforeSave: true}},
	{Variant{VariantRecreateStream, "/tasks recreates a job stream that cleanup deleted"}, behaviour{recreateStream: true}},
	{Variant{VariantSlowAck, "the result processor acks 1.5 x ack_wait after storing, holding the work meanwhile"}, behaviour{slowAck: true}},
	{Variant{VariantLeakConnections, "a request's NATS connection is never closed (until the API shuts down)"}, behaviour{leakConns: true}},

	{Variant{VariantPooled, "good, pooled: request handlers share a bounded, health-checked pool of NATS connections; a dead one is replaced, idle ones close"}, behaviour{pooled: true}},
	{Variant{VariantPooledStale, "pooled, but the pool keeps a connection that NATS dropped (left reconnecting) instead of replacing it"}, behaviour{pooled: true, poolStale: true}},
	{Variant{VariantConnectRetryOnRefused, "a refused NATS connect is retried 60 x 2s although reconnect is off: /tasks hangs while NATS is down"}, behaviour{retryRefused: true}},
	{Variant{VariantEmptyOnError, "a non-timeout NATS error during /tasks (refused, closed, JetStream unavailable) answers 200 {\"tasks\": []}"}, behaviour{emptyOnError: true}},
	{Variant{VariantLateFetch, "the batch fetch stops on its own timer and unsubscribes while the pull's deliveries are still on the wire"}, behaviour{lateFetch: true}},
	{Variant{VariantAckConnectionSetup, "every ack opens its own NATS connection and first ensures the advisories stream: a connection and a JetStream API call per ack"}, behaviour{ackSetup: true}},
	{Variant{VariantConsumerFirstCleanup, "cleanup deletes the job's consumer before its stream: a racing /tasks recreates the consumer, which hands everything out again"}, behaviour{consumerFirst: true}},
	{Variant{VariantSeenOnlyOnSuccess, "a worker is marked seen only when its /tasks or /result succeeded: during NATS trouble polling workers go unseen"}, behaviour{seenLate: true}},
	{Variant{VariantSlowLeak, "every 100th /tasks request leaks a goroutine holding a NATS subscription, until the API shuts down (caught by a soak)"}, behaviour{slowLeak: true}},
	{Variant{VariantEarlySuccess, "a job becomes SUCCESS (and its stream is deleted) one result before all of its tasks are stored"}, behaviour{earlySuccess: true}},
	{Variant{VariantWrongPipeline, "the job list ignores pipeline__slug__in: a worker is handed the jobs, and then the tasks, of pipelines it did not ask for"}, behaviour{ignorePipeline: true}},
	{Variant{VariantNoCleanup, "a finished or cancelled job's stream and consumer are never deleted (the cleanup is skipped)"}, behaviour{noCleanup: true}},
}

// Variants returns every variant, the good one first. The slice is a copy.
func Variants() []Variant {
	out := make([]Variant, len(variants))
	for i, v := range variants {
		out[i] = v.Variant
	}
	return out
}

func lookupVariant(name string) (behaviour, error) {
	for _, v := range variants {
		if v.Name == name {
			return v.b, nil
		}
	}
	names := make([]string, len(variants))
	for i, v := range variants {
		names[i] = v.Name
	}
	sort.Strings(names)
	return behaviour{}, fmt.Errorf("unknown variant %q (valid: %s)", name, strings.Join(names, ", "))
}
