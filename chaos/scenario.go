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
	Name        string `yaml:"name,omitempty"`        // lower-case words joined by '-'
	Description string `yaml:"description,omitempty"` // what it does, one line
	Proves      string `yaml:"proves,omitempty"`      // what a pass proves, one line
	// Seed drives every random choice of the run. 0 means "not set": the
	// harness picks one (from --seed or the clock) and records it.
	Seed     int64           `yaml:"seed,omitempty"`
	SUT      SUT             `yaml:"sut,omitempty"`
	Workload Workload        `yaml:"workload,omitempty"`
	Warmup   time.Duration   `yaml:"warmup,omitempty"`  // load without faults before the chaos phase
	Chaos    time.Duration   `yaml:"chaos,omitempty"`   // length of the chaos phase; faults are offsets into it
	Faults   []faults.Step   `yaml:"faults,omitempty"`  // the fixed schedule
	Nemesis  *faults.Nemesis `yaml:"nemesis,omitempty"` // random faults drawn from the seed; nil = none
	Expect   Expect          `yaml:"expect,omitempty"`
}

// SUT configures the system under test (the reference API, docs/protocol.md).
type SUT struct {
	Variant        string        `yaml:"variant,omitempty"`         // one of protocol.VariantNames()
	AckWait        time.Duration `yaml:"ack_wait,omitempty"`        // consumer ack_wait (A)
	MaxDeliver     int           `yaml:"max_deliver,omitempty"`     // consumer max_deliver (M)
	MaxAckPending  int           `yaml:"max_ack_pending,omitempty"` // consumer max_ack_pending
	ConnectTimeout time.Duration `yaml:"connect_timeout,omitempty"` // the API's NATS connect timeout
	OpTimeout      time.Duration `yaml:"op_timeout,omitempty"`      // timeout of every JetStream metadata call and publish
	FetchWait      time.Duration `yaml:"fetch_wait,omitempty"`      // the batch fetch's wait
	MaxConcurrent  int           `yaml:"max_concurrent,omitempty"`  // requests the API serves at once; 0 = unbounded
	// Processes and Threads run the API as Processes web-server processes
	// of Threads request threads (default 1: one request at a time per
	// process); see api.Config. 0 = unbounded.
	Processes int `yaml:"processes,omitempty"`
	Threads   int `yaml:"threads,omitempty"`
	// QueueSize bounds the results waiting for the API's result processor
	// (default 100,000); a /result that does not fit answers 503.
	QueueSize int `yaml:"queue_size,omitempty"`
	// Cluster is how many NATS servers the embedded stack runs: 0 or 1 for
	// one server, 3 for a JetStream cluster whose routes go through the
	// links route-1 (node 1 ↔ 2), route-2 (2 ↔ 3) and route-3 (3 ↔ 1), with
	// the job's stream and consumer on 3 replicas.
	Cluster int `yaml:"cluster,omitempty"`
}

// ClusterSize is the one cluster size the embedded stack runs.
const ClusterSize = 3

// Workload configures the tasks and the built-in workers.
type Workload struct {
	Tasks     int    `yaml:"tasks,omitempty"`      // tasks published into the job
	Workers   int    `yaml:"workers,omitempty"`    // worker processes
	Worker    string `yaml:"worker,omitempty"`     // WorkerADC or WorkerBasic
	BatchSize int    `yaml:"batch_size,omitempty"` // batch_size of each /tasks call
	// AltBatchSize, when > 0, is the batch_size of every other worker (w2,
	// w4, …): two batch sizes, so that round trips growing with the batch
	// size show (alt_batch_size).
	AltBatchSize int           `yaml:"alt_batch_size,omitempty"`
	HTTPTimeout  time.Duration `yaml:"http_timeout,omitempty"` // the workers' /tasks timeout
	ProcessTime  time.Duration `yaml:"process_time,omitempty"` // simulated work per task
	Fetchers     int           `yaml:"fetchers,omitempty"`     // parallel fetchers per worker (adc)
	IdleSleep    time.Duration `yaml:"idle_sleep,omitempty"`   // a worker's sleep when no job had work
	// Jobs, when set, are the run's jobs, in the order they are created,
	// each of its pipeline: several jobs in flight at once. The first is
	// the run's job (Tasks is its tasks): the checks of one job judge it;
	// pipeline and the checks of the whole API judge every job.
	Jobs []JobLoad `yaml:"jobs,omitempty"`
	// WorkerGroups, when set, are the workers (Workers is their sum), each
	// group asking the job list for its pipelines only.
	WorkerGroups []WorkerGroup `yaml:"worker_groups,omitempty"`
}

// JobLoad is one job of Workload.Jobs.
type JobLoad struct {
	Pipeline string `yaml:"pipeline"` // pipeline slug; "" = the API's default
	Tasks    int    `yaml:"tasks"`    // tasks published into it, ≥ 1
}

// WorkerGroup is Workers workers that ask for the pipelines Pipelines
// (empty: every pipeline).
type WorkerGroup struct {
	Workers   int      `yaml:"workers"`
	Pipelines []string `yaml:"pipelines"`
}

// Expect holds the scenario's tolerances; zero values mean the checkers'
// defaults (docs/invariants.md).
type Expect struct {
	Orphaned   int           `yaml:"orphaned,omitempty"`   // orphaned reservations allowed (default 0)
	MaxStall   time.Duration `yaml:"max_stall,omitempty"`  // longest stall allowed; 0 = A/2
	Duplicates *int          `yaml:"duplicates,omitempty"` // tasks processed twice allowed; nil = not judged
	LateAcks   int           `yaml:"late_acks,omitempty"`  // late acks allowed (default 0)
	ProbeP99   time.Duration `yaml:"probe_p99,omitempty"`  // liveness probe p99 bound; 0 = 250ms
	Tolerance  time.Duration `yaml:"tolerance,omitempty"`  // ε; 0 = max(100ms, 5% of A)
	// CleanupBound is how long a terminal job's stream and consumer may
	// outlive the job, or the outage it ended in (resource-cleanup); 0 = 2s.
	// A platform whose cleanup retries back off further than that after an
	// outage sets its own.
	CleanupBound time.Duration `yaml:"cleanup_bound,omitempty"`
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
	if len(w.Jobs) > 0 && w.Tasks == 0 {
		w.Tasks = w.Jobs[0].Tasks
	}
	if len(w.WorkerGroups) > 0 && w.Workers == 0 {
		for _, g := range w.WorkerGroups {
			w.Workers += g.Workers
		}
	}
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
	MaxQueueSize     = 10_000_000         // sut.queue_size
)

// Validate refuses a scenario that cannot run: impossible values, unknown
// variants, links or faults, a schedule outside the chaos phase, and values
// past the upper bounds: every duration (each of sut, workload, expect,
// warmup and chaos, found by their tags, and those of the faults and the
// nemesis) ≤ [MaxDuration] (24 h); workload.tasks, expect.orphaned, expect.late_acks and
// expect.duplicates ≤ [MaxTasks] (10,000,000); workload.workers ≤
// [MaxWorkers] (1000); workload.fetchers ≤ [MaxFetchers] (100);
// workload.batch_size ≤ [MaxBatchSize] (10,000); sut.max_deliver ≤
// [MaxMaxDeliver] (100); sut.max_ack_pending ≤ [MaxMaxAckPending]
// (1,000,000); sut.max_concurrent ≤ [MaxConcurrent] (10,000);
// sut.queue_size ≤ [MaxQueueSize] (10,000,000). Errors are
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
	var derr error
	s.durations(func(path string, d *time.Duration) {
		switch {
		case derr != nil:
		case *d < 0:
			derr = bad(path, "negative duration %q", *d)
		case *d > MaxDuration:
			derr = bad(path, "%s is longer than %s", *d, MaxDuration)
		}
	})
	if derr != nil {
		return derr
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
		{"sut.queue_size", s.SUT.QueueSize, MaxQueueSize},
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
	if err := s.validateJobs(); err != nil {
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

// validateNodes refuses route links, and the nodes of faults that need a
// NATS node ([faults.NeedNATSNode]), that the scenario's NATS does not have.
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
		if i, ok := spec.Node(); ok && i > n {
			return &faults.FieldError{Path: path + "." + spec.Name + ".node", Msg: fmt.Sprintf("node %d: the NATS has %d node(s), numbered from 1 (0 = node 1)", i, n)}
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
