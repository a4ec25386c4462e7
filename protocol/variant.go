package protocol

// The variants of docs/protocol.md "Known-bad variants", selected by the reference API's Config.Variant.
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

// VariantSlowLeak leaks a goroutine and a NATS subscription every 100
// /tasks requests, until the API shuts down: invisible to a run of seconds,
// caught by resource-growth in a soak of minutes. It is the one variant
// only a soak catches, so it is not in the verification matrix.
const VariantSlowLeak = "slow-leak"

// Variant is one behaviour of the reference API: the good one, or a known
// bug that the harness must catch.
type Variant struct {
	Name        string // the value of the API's Config.Variant and of a scenario's sut.variant
	Description string // one line, for `natschaos sut --help`
	Soak        bool   // only a soak catches it; not in the verification matrix
}

var variants = []Variant{
	{Name: VariantGood, Description: "the reference behaviour of docs/protocol.md: one pull per /tasks, no reconnect, timeouts, fast 503, ack last"},
	{Name: VariantReserveOneByOne, Description: "/tasks reserves N tasks with N single pulls, each with stream info, consumer info, a new pull subscription, fetch(1), unsubscribe"},
	{Name: VariantReconnect, Description: "NATS client with default reconnect (60 attempts, 2s apart); connections of interrupted requests are left open"},
	{Name: VariantNoConnectTimeout, Description: "no NATS connect timeout (1h) and no timeout on JetStream metadata calls: hangs on a half-open NATS"},
	{Name: VariantSwallowTimeout, Description: "a NATS timeout or error during /tasks answers 200 {\"tasks\": []} instead of 503"},
	{Name: VariantNoTerminalGuard, Description: "/tasks serves tasks of jobs that are finished, cancelled or not started"},
	{Name: VariantAckBeforeSave, Description: "the result processor acks before storing: a crash between the two loses the result"},
	{Name: VariantRecreateStream, Description: "/tasks recreates a job stream that cleanup deleted"},
	{Name: VariantSlowAck, Description: "the result processor acks 1.5 x ack_wait after storing, holding the work meanwhile"},
	{Name: VariantLeakConnections, Description: "a request's NATS connection is never closed (until the API shuts down)"},

	{Name: VariantPooled, Description: "good, pooled: request handlers share a bounded, health-checked pool of NATS connections; a dead one is replaced, idle ones close"},
	{Name: VariantPooledStale, Description: "pooled, but the pool keeps a connection that NATS dropped (left reconnecting) instead of replacing it"},
	{Name: VariantConnectRetryOnRefused, Description: "a refused NATS connect is retried 60 x 2s although reconnect is off: /tasks hangs while NATS is down"},
	{Name: VariantEmptyOnError, Description: "a non-timeout NATS error during /tasks (refused, closed, JetStream unavailable) answers 200 {\"tasks\": []}"},
	{Name: VariantLateFetch, Description: "the batch fetch stops on its own timer and unsubscribes while the pull's deliveries are still on the wire"},
	{Name: VariantAckConnectionSetup, Description: "every ack opens its own NATS connection and first ensures the advisories stream: a connection and a JetStream API call per ack"},
	{Name: VariantConsumerFirstCleanup, Description: "cleanup deletes the job's consumer before its stream: a racing /tasks recreates the consumer, which hands everything out again"},
	{Name: VariantSeenOnlyOnSuccess, Description: "a worker is marked seen only when its /tasks or /result succeeded: during NATS trouble polling workers go unseen"},
	{Name: VariantSlowLeak, Description: "every 100th /tasks request leaks a goroutine holding a NATS subscription, until the API shuts down (caught by a soak)", Soak: true},
	{Name: VariantEarlySuccess, Description: "a job becomes SUCCESS (and its stream is deleted) one result before all of its tasks are stored"},
	{Name: VariantWrongPipeline, Description: "the job list ignores pipeline__slug__in: a worker is handed the jobs, and then the tasks, of pipelines it did not ask for"},
	{Name: VariantNoCleanup, Description: "a finished or cancelled job's stream and consumer are never deleted (the cleanup is skipped)"},
}

// Variants returns every variant, the good one first. The slice is a copy.
func Variants() []Variant { return append([]Variant(nil), variants...) }

// VariantNames are the names of the variants a scenario run is verified
// with (every variant but the soak ones), the good one first.
func VariantNames() []string { return names(false) }

// SoakVariantNames are the names of the variants only a soak catches.
func SoakVariantNames() []string { return names(true) }

func names(soak bool) []string {
	var out []string
	for _, v := range variants {
		if v.Soak == soak {
			out = append(out, v.Name)
		}
	}
	return out
}

// KnownVariant says whether name is a variant's.
func KnownVariant(name string) bool {
	for _, v := range variants {
		if v.Name == name {
			return true
		}
	}
	return false
}
