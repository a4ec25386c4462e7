package chaos

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/faults"
)

func TestBadScenarioFiles(t *testing.T) {
	for _, tc := range []struct {
		file  string
		line  int
		field string
		msg   string
	}{
		{"unknown-key.yaml", 4, "sut.ackwait", `unknown field "ackwait" (known: ack_wait,`},
		{"negative-duration.yaml", 7, "faults[0].latency.latency", `negative duration "-5ms"`},
		{"toxicity.yaml", 5, "faults[0].latency.toxicity", "toxicity 2.5 outside [0, 1]"},
		{"unknown-link.yaml", 6, "faults[0].link", `unknown link "api-redis"`},
		{"unknown-variant.yaml", 4, "sut.variant", `unknown variant "fast"`},
		{"wrong-type.yaml", 3, "workload.tasks", `want an integer, got str "many"`},
		{"misspelled-attribute.yaml", 7, "faults[0].latency.jiter", `unknown attribute "jiter" of latency`},
		{"two-faults.yaml", 6, "faults[0].down", "one fault per step: latency and down"},
		{"probability.yaml", 5, "faults[0].http_drop_response.probability", "probability 1.5 outside (0, 1]"},
		{"bad-status.yaml", 5, "faults[0].http_status.code", "bad HTTP status code 700"},
		{"at-outside-chaos.yaml", 6, "faults[1].at", "at 6s is not inside the chaos phase (5s)"},
		{"nemesis-range.yaml", 7, "nemesis.interval", "max 1s below min 2s"},
		{"syntax.yaml", 4, "", "mapping values are not allowed"},
		{"unknown-fault.yaml", 5, "faults[0].latncy", `unknown field "latncy" (a step takes at, for, every, link and one fault`},
		{"no-unit.yaml", 3, "sut.ack_wait", `duration "2" needs a unit`},
		{"unknown-direction.yaml", 5, "faults[0].blackhole.direction", `unknown direction "sideways"`},
		{"http-wrong-link.yaml", 4, "faults[0].link", "http_abort acts on worker-api only"},
		{"duplicate-key.yaml", 4, "workload.tasks", `"tasks" given twice`},
		{"faults-without-chaos.yaml", 1, "chaos", "faults need a chaos phase"},
		{"bad-name.yaml", 1, "name", `name "Bad Name" must be lower-case`},
		{"empty.yaml", 1, "", "empty scenario file"},
		{"negative-count.yaml", 3, "expect.orphaned", "-1 must be ≥ 0"},
		{"processes-and-max-concurrent.yaml", 4, "sut.processes", "set either processes (with threads) or max_concurrent"},
		{"threads-alone.yaml", 3, "sut.threads", "threads needs processes"},
		{"unknown-worker.yaml", 3, "workload.worker", `unknown worker "gpu"`},
		{"too-many-workers.yaml", 3, "workload.workers", "100000 is more than 1000"},
		{"too-many-tasks.yaml", 4, "workload.tasks", "20000000 is more than 10000000"},
		{"batch-too-big.yaml", 3, "workload.batch_size", "1000000 is more than 10000"},
		{"too-many-fetchers.yaml", 4, "workload.fetchers", "5000 is more than 100"},
		{"too-many-deliveries.yaml", 3, "sut.max_deliver", "1000 is more than 100"},
		{"long-ack-wait.yaml", 3, "sut.ack_wait", `duration "48h" is longer than 24h0m0s`},
		{"long-chaos.yaml", 3, "chaos", `duration "25h" is longer than 24h0m0s`},
		{"long-latency.yaml", 5, "faults[0].latency.latency", `duration "25h" is longer than 24h0m0s`},
		{"long-for.yaml", 5, "faults[0].for", `duration "48h" is longer than 24h0m0s`},
		{"huge-int.yaml", 3, "workload.tasks", `want an integer, got float "99999999999999999999999"`},
		{"huge-duration.yaml", 3, "sut.ack_wait", `not a duration: "9999999999h"`},
		{"job-without-tasks.yaml", 5, "workload.jobs[1].tasks", "0: want 1 … 10000000"},
		{"pipeline-with-comma.yaml", 5, "workload.worker_groups[0].pipelines[1]", `pipeline "a,b": want a slug`},
		{"workers-and-groups.yaml", 3, "workload.workers", "3: the worker groups have 1 workers: leave workers out"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tc.file)
			_, err := LoadScenario(path)
			require.Error(t, err)
			var fe *FileError
			require.True(t, errors.As(err, &fe), "%T: %v", err, err)
			t.Log(err)
			require.Equal(t, path, fe.File)
			require.Equal(t, tc.line, fe.Line, "line: %v", err)
			require.Equal(t, tc.field, fe.Field, "field: %v", err)
			require.Contains(t, fe.Msg, tc.msg)
			require.Contains(t, err.Error(), path+":")
		})
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(entries), 10)
}

// TestClusterSettingsValidated: a cluster setting that does not fit (a
// cluster of 2, a route or node beyond it) is an error naming its field
// and line.
func TestClusterSettingsValidated(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, field, msg string
		line                   int
	}{
		{"two nodes", "name: c\nsut:\n  cluster: 2\n", "sut.cluster", "cluster 2: 1 (one server) or 3", 3},
		{"negative", "name: c\nsut:\n  cluster: -1\n", "sut.cluster", "cluster -1", 3},
		{"route without cluster", "name: c\nchaos: 2s\nfaults:\n  - at: 0s\n    link: route-1\n    down: {}\n", "faults[0].link", "link route-1 needs a cluster: set sut.cluster: 3", 5},
		{"route beyond the cluster", "name: c\nsut:\n  cluster: 3\nchaos: 2s\nfaults:\n  - at: 0s\n    link: route-4\n    down: {}\n", "faults[0].link", "a 3-node cluster has route-1 … route-3", 7},
		{"node beyond the cluster", "name: c\nsut:\n  cluster: 3\nchaos: 2s\nfaults:\n  - at: 0s\n    nats_restart: {node: 4}\n", "faults[0].nats_restart.node", "node 4: the NATS has 3 node(s)", 7},
		{"node without a cluster", "name: c\nchaos: 2s\nfaults:\n  - at: 0s\n    nats_restart: {node: 2}\n", "faults[0].nats_restart.node", "node 2: the NATS has 1 node(s)", 5},
		{"nemesis route without cluster", "name: c\nchaos: 2s\nnemesis:\n  faults:\n    - link: route-2\n      down: {}\n  interval: [1s, 2s]\n  duration: [1s, 2s]\n", "nemesis.faults[0].link", "needs a cluster", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario("c.yaml", []byte(tc.yaml))
			var fe *FileError
			require.True(t, errors.As(err, &fe), "%T: %v", err, err)
			require.Equal(t, tc.field, fe.Field, "%v", err)
			require.Contains(t, fe.Msg, tc.msg)
			require.Equal(t, tc.line, fe.Line, "%v", err)
		})
	}
	s, err := ParseScenario("c.yaml", []byte("name: c\nsut:\n  cluster: 3\nchaos: 2s\nfaults:\n  - at: 0s\n    link: route-3\n    latency: {latency: 5ms}\n  - at: 1s\n    nats_restart: {node: 3}\n"))
	require.NoError(t, err)
	require.Equal(t, 3, s.Nodes())
}

func TestScenarioErrorFormat(t *testing.T) {
	_, err := ParseScenario("bad.yaml", []byte("name: x\nchaos: 5s\nfaults:\n  - link: api-nats\n    latency: {latency: -5ms}\n"))
	require.EqualError(t, err, `bad.yaml:5: faults[0].latency.latency: negative duration "-5ms"`)
}

func TestDefaults(t *testing.T) {
	s, err := ParseScenario("min.yaml", []byte("name: min\n"))
	require.NoError(t, err)
	require.Equal(t, "good", s.SUT.Variant)
	require.Equal(t, DefaultAckWait, s.SUT.AckWait)
	require.Equal(t, WorkerADC, s.Workload.Worker)
	require.Equal(t, DefaultFetchers, s.Workload.Fetchers)
	require.Nil(t, s.Expect.Duplicates)
	require.Zero(t, s.Seed)

	// A bare 0 is the one duration without a unit: zero, the default.
	z, err := ParseScenario("zero.yaml", []byte("name: z\nwarmup: 0\nsut: {ack_wait: 0, max_deliver: 0}\nchaos: 2s\nfaults: [{at: 0, link: api-nats, down: {}}]\n"))
	require.NoError(t, err)
	require.Equal(t, DefaultWarmup, z.Warmup)
	require.Equal(t, DefaultAckWait, z.SUT.AckWait)
	require.Zero(t, z.Faults[0].At)

	b, err := ParseScenario("basic.yaml", []byte("name: b\nworkload: {worker: basic}\n"))
	require.NoError(t, err)
	require.Equal(t, 1, b.Workload.Fetchers)
}

// roundTrip writes s and parses it back.
func roundTrip(t *testing.T, s Scenario) Scenario {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteScenario(&buf, s))
	back, err := ParseScenario("resolved.yaml", buf.Bytes())
	require.NoError(t, err, "%s", buf.String())
	return back
}

func TestScenarioRoundTrip(t *testing.T) {
	for _, s := range Catalog() {
		t.Run(s.Name, func(t *testing.T) {
			require.Equal(t, s, roundTrip(t, s))

			// The resolved scenario (seed set, nemesis drawn) replays the
			// same windows.
			if s.Seed == 0 {
				s.Seed = 99
			}
			resolved := s.Resolve(rand.New(rand.NewSource(s.Seed)))
			require.Nil(t, resolved.Nemesis)
			back := roundTrip(t, resolved)
			require.Equal(t, resolved, back)
			require.Equal(t, s.Windows(), back.Windows())
		})
	}
}

func TestResolveKeepsTheRunsRandomness(t *testing.T) {
	nem, ok := Lookup("nemesis")
	require.True(t, ok)
	require.NotNil(t, nem.Nemesis)

	rng := rand.New(rand.NewSource(5))
	resolved := nem.Resolve(rng)
	require.NotEmpty(t, resolved.Faults)
	after := rng.Int63()

	replay := rand.New(rand.NewSource(5))
	again := resolved.Resolve(replay)
	require.Equal(t, resolved, again, "a resolved scenario resolves to itself")
	require.Equal(t, after, replay.Int63(), "and leaves the run's source where the original run left it")

	other := nem.Resolve(rand.New(rand.NewSource(6)))
	require.NotEqual(t, resolved.Faults, other.Faults)
}

func TestRoundTripOddValues(t *testing.T) {
	dup := 0
	s := Scenario{
		Name: "odd", Description: "123", Proves: "true: yes", Seed: -4,
		Chaos: 90 * time.Second,
		Faults: []faults.Step{
			{At: 1500 * time.Millisecond, For: time.Second, Every: 2 * time.Second, Link: faults.LinkAPINATS,
				Fault: faults.Spec{Name: "latency", Attrs: faults.Attrs{"latency": "10ms", "toxicity": "0.5"}}},
			{Fault: faults.Spec{Name: "http_status", Attrs: faults.Attrs{"code": "502", "path": "/tasks/", "method": "POST"}}},
		},
		Nemesis: &faults.Nemesis{
			Faults:   []faults.Choice{{Fault: faults.Spec{Name: "nats_pause", Attrs: faults.Attrs{"for": "1s"}}}},
			Interval: faults.Range{Min: time.Second, Max: time.Second},
			Duration: faults.Range{Min: time.Second, Max: 2 * time.Second},
		},
		Expect: Expect{Duplicates: &dup},
	}.WithDefaults()
	require.NoError(t, s.Validate())
	require.Equal(t, s, roundTrip(t, s))
}

func TestFindScenario(t *testing.T) {
	s, err := FindScenario("baseline")
	require.NoError(t, err)
	require.Equal(t, "baseline", s.Name)
	_, err = FindScenario("no-such")
	require.ErrorContains(t, err, `unknown scenario "no-such"`)
	require.True(t, IsUsage(err), "an unknown scenario is bad usage: exit 2")
	path := filepath.Join(t.TempDir(), "x.yaml")
	require.NoError(t, WriteScenarioFile(path, s))
	back, err := FindScenario(path)
	require.NoError(t, err)
	require.Equal(t, s, back)
	_, err = FindScenario(filepath.Join("testdata", "bad", "toxicity.yaml"))
	var fe *FileError
	require.ErrorAs(t, err, &fe)
}

func FuzzScenario(f *testing.F) {
	for _, s := range Catalog() {
		var buf bytes.Buffer
		require.NoError(f, WriteScenario(&buf, s))
		f.Add(buf.Bytes())
	}
	entries, _ := os.ReadDir(filepath.Join("testdata", "bad"))
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join("testdata", "bad", e.Name()))
		f.Add(data)
	}
	f.Add([]byte("name: a\nfaults: &x [*x]\n"))
	f.Add([]byte("name: a\nchaos: 1s\nfaults:\n  - {at: 0s, link: api-nats, latency: {latency: 1ms, path: ''}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScenario("fuzz.yaml", data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("not a *FileError: %T %v", err, err)
			}
			return
		}
		// What parses writes back and parses to the same scenario.
		var buf bytes.Buffer
		if err := WriteScenario(&buf, s); err != nil {
			t.Fatal(err)
		}
		back, err := ParseScenario("again.yaml", buf.Bytes())
		if err != nil {
			t.Fatalf("written scenario does not parse: %v\n%s", err, buf.String())
		}
		require.Equal(t, s, back)
		_ = s.Windows()
	})
}

// The duration settings Validate bounds and Scale stretches are found by
// the same tags a file is read by.
func TestDurationsFollowTheTags(t *testing.T) {
	s := Scenario{}.WithDefaults()
	var paths []string
	s.durations(func(path string, d *time.Duration) {
		paths = append(paths, path)
		*d = 25 * time.Hour
	})
	require.Equal(t, []string{
		"sut.ack_wait", "sut.connect_timeout", "sut.op_timeout", "sut.fetch_wait",
		"workload.http_timeout", "workload.process_time", "workload.idle_sleep",
		"warmup", "chaos", "expect.max_stall", "expect.probe_p99", "expect.tolerance", "expect.cleanup_bound",
	}, paths)
	s.Name = "x"
	var fe *faults.FieldError
	require.ErrorAs(t, s.Validate(), &fe)
	require.Equal(t, "sut.ack_wait", fe.Path)
	require.Equal(t, 2*time.Second, Scenario{Warmup: time.Second}.Scale(2).Warmup)
}
