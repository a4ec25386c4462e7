package chaos

import (
	"fmt"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/natschaos/natschaos/faults"
	"github.com/natschaos/natschaos/protocol"
)

// The workers a workload can run (docs/protocol.md, "The workers").
const (
	WorkerADC   = "adc"   // the platform's GPU worker: parallel fetchers, prefetch, poster threads
	WorkerBasic = "basic" // one loop: fetch → process → post
)

// Scenario is one run of the harness, as a plain value: the system under
// test, the load, the fault schedule and what to expect. Parse one with
// [ParseScenario], check it with [Scenario.Validate].
type Scenario struct {
	Name        string // lower-case words joined by '-'
	Description string // what it does, one line
	Proves      string // what a pass proves, one line
	// Seed drives every random choice of the run. 0 means "not set": the
	// harness picks one (from --seed or the clock) and records it.
	Seed     int64
	SUT      SUT
	Workload Workload
	Warmup   time.Duration   // load without faults before the chaos phase
	Chaos    time.Duration   // length of the chaos phase; faults are offsets into it
	Faults   []faults.Step   // the fixed schedule
	Nemesis  *faults.Nemesis // random faults drawn from the seed; nil = none
	Expect   Expect
}

// SUT configures the system under test (the reference API, docs/protocol.md).
type SUT struct {
	Variant        string        // one of protocol.Variants
	AckWait        time.Duration // consumer ack_wait (A)
	MaxDeliver     int           // consumer max_deliver (M)
	MaxAckPending  int           // consumer max_ack_pending
	ConnectTimeout time.Duration // the API's NATS connect timeout
	OpTimeout      time.Duration // timeout of every JetStream metadata call and publish
	FetchWait      time.Duration // the batch fetch's wait
	MaxConcurrent  int           // requests the API serves at once; 0 = unbounded
	// Processes and Threads run the API as Processes web-server processes
	// of Threads request threads (default 1: one request at a time per
	// process); see api.Config. 0 = unbounded.
	Processes int
	Threads   int
	// Cluster is how many NATS servers the embedded stack runs: 0 or 1 for
	// one server, 3 for a JetStream cluster whose routes go through the
	// links route-1 (node 1 ↔ 2), route-2 (2 ↔ 3) and route-3 (3 ↔ 1), with
	// the job's stream and consumer on 3 replicas.
	Cluster int
}

// ClusterSize is the one cluster size the embedded stack runs.
const ClusterSize = 3

// Workload configures the tasks and the built-in workers.
type Workload struct {
	Tasks     int    // tasks published into the job
	Workers   int    // worker processes
	Worker    string // WorkerADC or WorkerBasic
	BatchSize int    // batch_size of each /tasks call
	// AltBatchSize, when > 0, is the batch_size of every other worker (w2,
	// w4, …): two batch sizes, so that round trips growing with the batch
	// size show (alt_batch_size).
	AltBatchSize int
	HTTPTimeout  time.Duration // the workers' /tasks timeout
	ProcessTime  time.Duration // simulated work per task
	Fetchers     int           // parallel fetchers per worker (adc)
	IdleSleep    time.Duration // a worker's sleep when no job had work
}

// Expect holds the scenario's tolerances; zero values mean the checkers'
// defaults (docs/invariants.md).
type Expect struct {
	Orphaned   int           // orphaned reservations allowed (default 0)
	MaxStall   time.Duration // longest stall allowed; 0 = A/2
	Duplicates *int          // tasks processed twice allowed; nil = not judged
	LateAcks   int           // late acks allowed (default 0)
	ProbeP99   time.Duration // liveness probe p99 bound; 0 = 250ms
	Tolerance  time.Duration // ε; 0 = max(100ms, 5% of A)
}

// Defaults of a scenario, scaled for runs of seconds (docs/scenarios.md).
const (
	DefaultAckWait        = 2 * time.Second
	DefaultMaxDeliver     = 3
	DefaultMaxAckPending  = 1000
	DefaultConnectTimeout = 500 * time.Millisecond
	DefaultOpTimeout      = time.Second
	DefaultFetchWait      = 500 * time.Millisecond
	DefaultTasks          = 200
	DefaultWorkers        = 2
	DefaultBatchSize      = 24
	DefaultHTTPTimeout    = 2 * time.Second
	DefaultProcessTime    = 2 * time.Millisecond
	DefaultFetchers       = 4
	DefaultIdleSleep      = 500 * time.Millisecond
	DefaultWarmup         = time.Second
)

// WithDefaults returns s with every unset setting given its default.
func (s Scenario) WithDefaults() Scenario {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	if s.SUT.Variant == "" {
		s.SUT.Variant = protocol.VariantGood
	}
	def(&s.SUT.AckWait, DefaultAckWait)
	defInt(&s.SUT.MaxDeliver, DefaultMaxDeliver)
	defInt(&s.SUT.MaxAckPending, DefaultMaxAckPending)
	def(&s.SUT.ConnectTimeout, DefaultConnectTimeout)
	def(&s.SUT.OpTimeout, DefaultOpTimeout)
	def(&s.SUT.FetchWait, DefaultFetchWait)
	w := &s.Workload
	defInt(&w.Tasks, DefaultTasks)
	defInt(&w.Workers, DefaultWorkers)
	if w.Worker == "" {
		w.Worker = WorkerADC
	}
	defInt(&w.BatchSize, DefaultBatchSize)
	def(&w.HTTPTimeout, DefaultHTTPTimeout)
	def(&w.ProcessTime, DefaultProcessTime)
	if w.Worker == WorkerBasic {
		defInt(&w.Fetchers, 1)
	} else {
		defInt(&w.Fetchers, DefaultFetchers)
	}
	def(&w.IdleSleep, DefaultIdleSleep)
	def(&s.Warmup, DefaultWarmup)
	return s
}

var nameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Upper bounds of a scenario's settings: beyond them a run would not end in
// a day or would hold more than one machine can (docs/external.md, "Bad
// input").
const (
	MaxDuration      = faults.MaxDuration // every duration of a scenario and its faults (24 h)
	MaxTasks         = 10_000_000         // workload.tasks, and the expect counts
	MaxWorkers       = 1000               // workload.workers
	MaxFetchers      = 100                // workload.fetchers per worker
	MaxBatchSize     = 10_000             // workload.batch_size
	MaxMaxDeliver    = 100                // sut.max_deliver
	MaxMaxAckPending = 1_000_000          // sut.max_ack_pending
	MaxConcurrent    = 10_000             // sut.max_concurrent
)

// Validate refuses a scenario that cannot run: impossible values, unknown
// variants, links or faults, a schedule outside the chaos phase, and values
// past the upper bounds: every duration (sut.ack_wait, sut.connect_timeout,
// sut.op_timeout, sut.fetch_wait, workload.http_timeout,
// workload.process_time, workload.idle_sleep, warmup, chaos,
// expect.max_stall, expect.probe_p99, expect.tolerance, and those of the
// faults and the nemesis) ≤ [MaxDuration] (24 h); workload.tasks, expect.orphaned, expect.late_acks and
// expect.duplicates ≤ [MaxTasks] (10,000,000); workload.workers ≤
// [MaxWorkers] (1000); workload.fetchers ≤ [MaxFetchers] (100);
// workload.batch_size ≤ [MaxBatchSize] (10,000); sut.max_deliver ≤
// [MaxMaxDeliver] (100); sut.max_ack_pending ≤ [MaxMaxAckPending]
// (1,000,000); sut.max_concurrent ≤ [MaxConcurrent] (10,000). Errors are
// *faults.FieldError whose Path is the field as a scenario file spells it
// ("sut.ack_wait", "faults[2].latency.jitter"). Zero values that have
// defaults are fine.
func (s Scenario) Validate() error {
	bad := func(path, format string, a ...any) error {
		return &faults.FieldError{Path: path, Msg: fmt.Sprintf(format, a...)}
	}
	if !nameRE.MatchString(s.Name) {
		return bad("name", "name %q must be lower-case words joined by '-'", s.Name)
	}
	if s.SUT.Variant != "" && !protocol.KnownVariant(s.SUT.Variant) {
		return bad("sut.variant", "unknown variant %q (known: %s)", s.SUT.Variant, strings.Join(protocol.VariantNames(), ", "))
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"sut.ack_wait", s.SUT.AckWait}, {"sut.connect_timeout", s.SUT.ConnectTimeout},
		{"sut.op_timeout", s.SUT.OpTimeout}, {"sut.fetch_wait", s.SUT.FetchWait},
		{"workload.http_timeout", s.Workload.HTTPTimeout}, {"workload.process_time", s.Workload.ProcessTime},
		{"workload.idle_sleep", s.Workload.IdleSleep},
		{"warmup", s.Warmup}, {"chaos", s.Chaos},
		{"expect.max_stall", s.Expect.MaxStall}, {"expect.probe_p99", s.Expect.ProbeP99},
		{"expect.tolerance", s.Expect.Tolerance},
	} {
		if d.v < 0 {
			return bad(d.path, "negative duration %q", d.v)
		}
		if d.v > MaxDuration {
			return bad(d.path, "%s is longer than %s", d.v, MaxDuration)
		}
	}
	dup := 0
	if s.Expect.Duplicates != nil {
		dup = *s.Expect.Duplicates
	}
	for _, n := range []struct {
		path string
		v    int
		max  int
	}{
		{"sut.max_deliver", s.SUT.MaxDeliver, MaxMaxDeliver}, {"sut.max_ack_pending", s.SUT.MaxAckPending, MaxMaxAckPending},
		{"sut.max_concurrent", s.SUT.MaxConcurrent, MaxConcurrent},
		{"sut.processes", s.SUT.Processes, MaxConcurrent}, {"sut.threads", s.SUT.Threads, MaxConcurrent},
		{"workload.tasks", s.Workload.Tasks, MaxTasks}, {"workload.workers", s.Workload.Workers, MaxWorkers},
		{"workload.batch_size", s.Workload.BatchSize, MaxBatchSize}, {"workload.alt_batch_size", s.Workload.AltBatchSize, MaxBatchSize},
		{"workload.fetchers", s.Workload.Fetchers, MaxFetchers},
		{"expect.orphaned", s.Expect.Orphaned, MaxTasks}, {"expect.late_acks", s.Expect.LateAcks, MaxTasks},
		{"expect.duplicates", dup, MaxTasks},
	} {
		if n.v < 0 {
			return bad(n.path, "%d must be ≥ 0", n.v)
		}
		if n.v > n.max {
			return bad(n.path, "%d is more than %d", n.v, n.max)
		}
	}
	if s.SUT.Processes > 0 && s.SUT.MaxConcurrent > 0 {
		return bad("sut.processes", "set either processes (with threads) or max_concurrent, not both")
	}
	if s.SUT.Threads > 0 && s.SUT.Processes == 0 {
		return bad("sut.threads", "threads needs processes")
	}
	if c := s.SUT.Cluster; c != 0 && c != 1 && c != ClusterSize {
		return bad("sut.cluster", "cluster %d: 1 (one server) or %d (a JetStream cluster)", c, ClusterSize)
	}
	if err := s.validateNodes(); err != nil {
		return err
	}
	if w := s.Workload.Worker; w != "" && w != WorkerADC && w != WorkerBasic {
		return bad("workload.worker", "unknown worker %q (adc or basic)", w)
	}
	if s.Chaos == 0 && (len(s.Faults) > 0 || s.Nemesis != nil) {
		return bad("chaos", "faults need a chaos phase: set chaos to its length")
	}
	for i, st := range s.Faults {
		if err := st.Validate(s.Chaos); err != nil {
			return faults.PrefixPath(fmt.Sprintf("faults[%d]", i), err)
		}
	}
	if s.Nemesis != nil {
		if err := s.Nemesis.Validate(); err != nil {
			return faults.PrefixPath("nemesis", err)
		}
	}
	if n := s.maxWindows(); n > MaxWindows {
		return bad("chaos", "the schedule could make %d fault windows, more than %d: fewer repetitions or a shorter chaos phase", n, MaxWindows)
	}
	return nil
}

// Nodes is how many NATS servers s runs (1 without a cluster).
func (s Scenario) Nodes() int { return max(s.SUT.Cluster, 1) }

// validateNodes refuses route links and nats_restart/nats_pause nodes that
// the scenario's NATS does not have.
func (s Scenario) validateNodes() error {
	n := s.Nodes()
	check := func(path, link string, spec faults.Spec) error {
		if r, ok := strings.CutPrefix(link, "route-"); ok {
			if i, err := strconv.Atoi(r); err == nil && (n == 1 || i > n) {
				if n == 1 {
					return &faults.FieldError{Path: path + ".link", Msg: fmt.Sprintf("link %s needs a cluster: set sut.cluster: %d", link, ClusterSize)}
				}
				return &faults.FieldError{Path: path + ".link", Msg: fmt.Sprintf("link %s: a %d-node cluster has route-1 … route-%d", link, n, n)}
			}
		}
		if spec.Name == "nats_restart" || spec.Name == "nats_pause" {
			if v, ok := spec.Attrs["node"]; ok {
				if i, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && i > n {
					return &faults.FieldError{Path: path + "." + spec.Name + ".node", Msg: fmt.Sprintf("node %d: the NATS has %d node(s), numbered from 1 (0 = node 1)", i, n)}
				}
			}
		}
		return nil
	}
	for i, st := range s.Faults {
		if err := check(fmt.Sprintf("faults[%d]", i), st.Link, st.Fault); err != nil {
			return err
		}
	}
	if s.Nemesis != nil {
		for i, c := range s.Nemesis.Faults {
			if err := check(fmt.Sprintf("nemesis.faults[%d]", i), c.Link, c.Fault); err != nil {
				return err
			}
		}
	}
	return nil
}

// MaxWindows bounds the fault windows of one scenario.
const MaxWindows = 100_000

// maxWindows is an upper bound of the windows s can make.
func (s Scenario) maxWindows() int64 {
	n := int64(0)
	for _, st := range s.Faults {
		n++
		if st.Every > 0 && s.Chaos > st.At {
			n += int64((s.Chaos - st.At) / st.Every)
		}
	}
	if s.Nemesis != nil {
		step := max(s.Nemesis.Interval.Min, time.Millisecond)
		n += int64(s.Chaos/step) + 1
	}
	return n
}

// Resolve returns s as it will run and as it is to be replayed: its
// nemesis drawn into concrete steps (appended to Faults, Nemesis nil).
// It draws exactly one number from rng — the schedule's own seed — whether
// or not s has a nemesis, so that the rest of the run draws the same
// numbers when the resolved scenario is replayed with the same seed.
func (s Scenario) Resolve(rng *rand.Rand) Scenario {
	schedule := rand.New(rand.NewSource(rng.Int63()))
	s.Faults = append([]faults.Step(nil), s.Faults...)
	if s.Nemesis != nil {
		s.Faults = append(s.Faults, s.Nemesis.Steps(s.Chaos, schedule)...)
		s.Nemesis = nil
	}
	return s
}

// Windows returns the fault windows of s, numbered in order of start. A
// nemesis still in s is drawn as a run with s.Seed would draw it
// ([Scenario.Resolve] with a source seeded with s.Seed).
func (s Scenario) Windows() []faults.Window {
	if s.Nemesis != nil {
		s = s.Resolve(rand.New(rand.NewSource(s.Seed)))
	}
	return faults.Resolve(s.Faults, nil, s.Chaos, nil)
}
