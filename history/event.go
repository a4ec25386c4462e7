// Package history is the record of a run: the [Event] type, the [Recorder]
// that streams events to disk as JSONL, and [Reader]/[Load] that read them
// back. The format is a public contract (docs/history.md):
// readers ignore kinds and fields they do not know, and writers omit fields
// they cannot know rather than guess them.
package history

import "github.com/natschaos/natschaos/protocol"

// Kind names what an [Event] records.
type Kind string

// The kinds of docs/history.md.
const (
	KindConfig   Kind = "config"   // first event: what the checkers measure against
	KindPublish  Kind = "publish"  // a task was stored in the stream
	KindReserve  Kind = "reserve"  // the API received a delivery from NATS
	KindHandout  Kind = "handout"  // a delivery reached a worker in a /tasks response
	KindResult   Kind = "result"   // a worker's result POST for a delivery
	KindStored   Kind = "stored"   // the API holds this task's result
	KindJob      Kind = "job"      // the job changed status
	KindAck      Kind = "ack"      // an ack was published to a reply subject
	KindAdvisory Kind = "advisory" // a JetStream advisory
	KindConsumer Kind = "consumer" // periodic consumer-info sample
	KindServer   Kind = "server"   // periodic server sample (varz/jsz)
	KindHTTP     Kind = "http"     // a call to the API as the caller saw it
	KindFault    Kind = "fault"    // a fault window starts or ends
	KindPhase    Kind = "phase"    // a run phase starts
	KindConn     Kind = "conn"     // a connection on a NATS link opens, is ready, or closes
	KindForeign  Kind = "foreign"  // how many events of other jobs an observer dropped (Name: the observer, N: the count)
	KindSeen     Kind = "seen"     // the API marked a worker seen (Worker; Path: the call that did)
	KindProc     Kind = "proc"     // periodic sample of a process the harness runs (Name: which; rss, fds, goroutines)
	KindContract Kind = "contract" // a contract probe of the API (Name: which; Path, Want, Status, Err, Task)
)

// Phases of a [KindConn] event, in the order a connection goes through them.
const (
	ConnOpen  = protocol.ConnOpen  // the link's proxy accepted the connection
	ConnReady = protocol.ConnReady // the NATS handshake completed
	ConnClose = protocol.ConnClose // the connection closed, or the run ended with it still open
)

// ConnOpenAtEnd is the Err of the [KindConn] close written at the run's end
// for a connection still open then.
const ConnOpenAtEnd = "open at end"

// Phase names used in [KindPhase] events, in the order a run goes through them.
const (
	PhaseWarmup = protocol.PhaseWarmup
	PhaseChaos  = protocol.PhaseChaos
	PhaseHeal   = protocol.PhaseHeal
	PhaseDrain  = protocol.PhaseDrain
	PhaseEnd    = protocol.PhaseEnd
)

// ProbeWorker is the Worker of the liveness prober's [KindHTTP] events.
const ProbeWorker = "probe"

// IsTasksCall reports whether e is a worker's /tasks call: an http event
// of a worker (not the prober) on a [protocol.IsTasksPath] path.
func (e *Event) IsTasksCall() bool {
	return e.Kind == KindHTTP && e.Worker != ProbeWorker && protocol.IsTasksPath(e.Path)
}

// ContractCreateJob is the Name of the [KindContract] event of a job the
// harness created to probe the API (the create_job fault); its Job is that
// job, which is the run's own but never has a task: checkers leave it out.
const ContractCreateJob = "create-job"

// ProbeJob is the job a [ContractCreateJob] event names, if e is one that
// names a job.
func ProbeJob(e *Event) (int64, bool) {
	return e.Job, e.Kind == KindContract && e.Name == ContractCreateJob && e.Job != 0
}

// Event is one line of a history. It is a flat union of the fields of every
// kind; the comment of each field gives its JSON key. Which fields a kind
// carries, and which are written even when zero (a consumer sample's
// num_pending 0, a result's status 0 for "no response"), is fixed by the
// codec (see [Event.AppendJSON] and [Event.UnmarshalJSON]). All durations are
// float seconds, as in the file.
type Event struct {
	T    float64 // seconds since the run's start, monotonic
	Kind Kind    // what happened

	// config
	AckWait           float64 // seconds, read from the consumer
	MaxDeliver        int     // read from the consumer
	MaxAckPending     int     // read from the consumer
	Stream            string  // stream name
	ConsumerName      string  // durable consumer name
	WorkerHTTPTimeout float64 // seconds
	ConnectTimeout    float64 // seconds

	// publish, reserve, handout, result, stored, ack
	Task   string // image_id of the task payload
	Reply  string // $JS.ACK... reply subject of the delivery
	SSeq   uint64 // stream sequence
	DSeq   uint64 // consumer (delivery) sequence
	DC     int    // delivery count, 1 for the first delivery
	Worker string // worker id; ProbeWorker for the prober

	// result and http: HTTP status the caller got (0 = no response).
	Status int
	// job: the job's new status (STARTED, CANCELING, REVOKED, SUCCESS, FAILURE).
	// It is written as "status" too: a string there, a number for result/http.
	JobStatus string
	Job       int64 // job id
	// job: the progress the API reports with the status (GET /jobs/{id}/
	// progress), when the writer knows it: results stored and the job's
	// total. Written only with a Total (a job has at least one task), so
	// Total 0 means "progress not recorded".
	ProgressStored int // stored
	ProgressTotal  int // total
	// Pipeline is, on a job event, the slug of the job's pipeline
	// ("pipeline"); optional.
	Pipeline string

	// ack
	Ack string // ack, nak, wpi, term

	// advisory
	Type       string // max_deliveries, nak, terminated, leader_elected
	Deliveries int    // deliveries so far (max_deliveries advisory)

	// consumer sample
	NumPending     uint64
	NumAckPending  int
	NumRedelivered int
	NumWaiting     int
	Delivered      uint64 // consumer sequence of the last delivery
	AckFloor       uint64 // consumer sequence of the ack floor

	// server sample
	Connections      int
	TotalConnections uint64
	Subscriptions    uint64
	JSAPITotal       uint64
	SlowConsumers    uint64
	// Mem is the server's resident memory, bytes (/varz mem); optional.
	Mem uint64
	// Version is the nats-server version from /varz (of the sampler's
	// first node that answered, in a cluster); optional.
	Version string

	// http
	Path  string  // request path
	MS    float64 // milliseconds the call took
	Err   string  // timeout, reset, refused, ...
	Batch int     // /tasks: the batch asked for
	N     int     // /tasks: tasks received; /result: results posted
	// Pipelines is, on a worker's /tasks call, the pipeline slugs it asked
	// for in its job list (pipeline__slug__in), comma-separated
	// ("pipelines"); absent when the caller asked for every pipeline or
	// the writer does not know.
	Pipelines string

	// contract: the statuses the API's contract allows for the probe
	// (comma-separated, e.g. "400" or "400,404"); Status is the one it got.
	Want string

	// fault and phase
	ID    string // fault id (unique within a run)
	Name  string // fault name, or phase name
	Link  string // link the fault acts on (conn: the link the connection came through)
	Phase string // fault: start or end; conn: open, ready or close
	// Effects is, on a fault's start, what the fault does (key "effects",
	// names joined by commas); empty in histories written before faults
	// recorded them.
	Effects Effects

	// proc sample (Name: the process): resident memory in bytes, open file
	// descriptors and goroutines (those it can read; 0 = not read).
	RSS        uint64
	FDs        int
	Goroutines int

	// conn: what the client sent on one connection through a NATS link,
	// counted from its protocol lines (never payloads). The counts are
	// written on close (and at the run's end for a connection still open).
	ConnID uint64 // connection id, unique per link
	JSAPI  int    // requests to $JS.API.> (pull requests included)
	Pulls  int    // pull requests: $JS.API.CONSUMER.MSG.NEXT.>
	Acks   int    // publishes to $JS.ACK.> (+ACK, -NAK, +WPI, +TERM)
	Msgs   int    // messages NATS delivered to the client with a $JS.ACK reply (tasks pulled)
	// Foreign is, on a conn close, the requests, acks and deliveries on the
	// connection that named another job's stream (not counted in JSAPI,
	// Pulls, Acks, Msgs).
	Foreign int
}
