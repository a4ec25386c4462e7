package faults

import (
	"context"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/internal/poll/polltest"
)

func TestAttributeValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		link string
		err  string // "" = valid
	}{
		{"latency ok", Spec{"latency", Attrs{"latency": "15ms", "jitter": "2ms", "direction": "both"}}, LinkAPINATS, ""},
		{"latency missing", Spec{"latency", nil}, LinkAPINATS, "latency.latency: latency is required"},
		{"negative duration", Spec{"latency", Attrs{"latency": "-5ms"}}, LinkAPINATS, `latency.latency: negative duration "-5ms"`},
		{"no unit", Spec{"latency", Attrs{"latency": "15"}}, LinkAPINATS, `latency.latency: duration "15" needs a unit`},
		{"sub-millisecond", Spec{"latency", Attrs{"latency": "1500us"}}, LinkAPINATS, "latency.latency: 1.5ms is not a whole number of milliseconds"},
		{"misspelled", Spec{"latency", Attrs{"latency": "1ms", "jiter": "1ms"}}, LinkAPINATS, `latency.jiter: unknown attribute "jiter" of latency`},
		{"toxicity high", Spec{"latency", Attrs{"latency": "1ms", "toxicity": "2.5"}}, LinkAPINATS, "latency.toxicity: toxicity 2.5 outside [0, 1]"},
		{"toxicity negative", Spec{"reset", Attrs{"toxicity": "-0.1"}}, LinkAPINATS, "reset.toxicity: toxicity -0.1 outside [0, 1]"},
		{"toxicity NaN", Spec{"reset", Attrs{"toxicity": "NaN"}}, LinkAPINATS, `reset.toxicity: not a number: "NaN"`},
		{"direction", Spec{"blackhole", Attrs{"direction": "sideways"}}, LinkAPINATS, `blackhole.direction: unknown direction "sideways"`},
		{"bandwidth zero", Spec{"bandwidth", Attrs{"rate": "0"}}, LinkAPINATS, "bandwidth.rate: rate 0 KB/s must be > 0"},
		{"bandwidth float", Spec{"bandwidth", Attrs{"rate": "1.5"}}, LinkAPINATS, `bandwidth.rate: not an integer: "1.5"`},
		{"timeout zero", Spec{"timeout", Attrs{"timeout": "0s"}}, LinkAPINATS, "timeout.timeout: timeout must be > 0"},
		{"slicer variation", Spec{"slicer", Attrs{"average_size": "10", "size_variation": "10"}}, LinkAPINATS, "slicer.size_variation"},
		{"limit_data negative", Spec{"limit_data", Attrs{"bytes": "-1"}}, LinkAPINATS, "limit_data.bytes: bytes -1 must be ≥ 0"},
		{"down takes nothing", Spec{"down", Attrs{"for": "1s"}}, LinkAPINATS, `down.for: unknown attribute "for" of down (known: none)`},
		{"toxic needs link", Spec{"latency", Attrs{"latency": "1ms"}}, "", "link: latency needs a link"},
		{"unknown link", Spec{"down", nil}, "api-redis", `link: unknown link "api-redis"`},
		{"route link", Spec{"down", nil}, "route-2", ""},
		{"route zero", Spec{"down", nil}, "route-0", "unknown link"},
		{"unknown fault", Spec{"latncy", nil}, LinkAPINATS, `latncy: unknown fault "latncy"`},
		{"http ok", Spec{"http_drop_response", Attrs{"probability": "0.3", "path": "/tasks/"}}, "", ""},
		{"http on worker-api", Spec{"http_abort", nil}, LinkWorkerAPI, ""},
		{"http elsewhere", Spec{"http_abort", nil}, LinkAPINATS, "link: http_abort acts on worker-api only"},
		{"probability zero", Spec{"http_drop_response", Attrs{"probability": "0"}}, "", "http_drop_response.probability: probability 0 outside (0, 1]"},
		{"probability high", Spec{"http_delay", Attrs{"delay": "1s", "probability": "1.01"}}, "", "http_delay.probability"},
		{"bad status", Spec{"http_status", Attrs{"code": "700"}}, "", "http_status.code: bad HTTP status code 700"},
		{"status default", Spec{"http_status", nil}, "", ""},
		{"delay required", Spec{"http_delay", nil}, "", "http_delay.delay: delay is required"},
		{"restart ok", Spec{"nats_restart", Attrs{"node": "1", "kill": "true"}}, "", ""},
		{"restart kill", Spec{"nats_restart", Attrs{"kill": "yes"}}, "", `nats_restart.kill: not true or false: "yes"`},
		{"restart link", Spec{"nats_restart", nil}, LinkAPINATS, "link: nats_restart acts on a process and takes no link"},
		{"pause needs for", Spec{"nats_pause", nil}, "", "nats_pause.for: for must be > 0"},
		{"worker crash point", Spec{"worker_crash", Attrs{"after": "post"}}, "", `worker_crash.after: after must be receive or process, not "post"`},
		{"processor crash none", Spec{"processor_crash", nil}, "", "processor_crash.every: give every (N ≥ 1) or probability"},
		{"processor crash both", Spec{"processor_crash", Attrs{"every": "3", "probability": "0.5"}}, "", "not both"},
		{"processor crash every", Spec{"processor_crash", Attrs{"every": "3"}}, "", ""},
		{"cancel ok", Spec{"cancel_job", nil}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.spec.Build("f1", tc.link)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
			var fe *FieldError
			require.ErrorAs(t, err, &fe, "validation errors name their field")
		})
	}
}

func TestAllFaultsDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range All() {
		require.NotEmpty(t, d.Doc, d.Name)
		require.NotNil(t, d.build, d.Name)
		require.False(t, seen[d.Name], "duplicate %s", d.Name)
		seen[d.Name] = true
		// Every documented attribute is accepted: unknown ones are refused.
		for _, a := range d.Attrs {
			_, err := Spec{Name: d.Name, Attrs: Attrs{a: "@"}}.Build("f1", (Spec{Name: d.Name}).defaultLink())
			if err != nil {
				require.NotContains(t, err.Error(), "unknown attribute", "%s.%s", d.Name, a)
			}
		}
	}
	for _, n := range []string{"latency", "bandwidth", "slow_close", "blackhole", "timeout", "reset", "slicer", "limit_data", "down",
		"http_status", "http_delay", "http_drop_response", "http_abort",
		"nats_restart", "nats_pause", "worker_crash", "processor_crash", "cancel_job"} {
		require.True(t, seen[n], "the fault vocabulary names %s", n)
	}
}

func TestHTTPFaultsInstallRules(t *testing.T) {
	rules := &HTTPRules{}
	env := &testEnv{http: rules, rng: rand.New(rand.NewSource(3))}
	heal := inject(t, env, "f4", "", Spec{Name: "http_status", Attrs: Attrs{"code": "502", "path": "/tasks/"}})

	req := httptest.NewRequest("POST", "/api/v2/jobs/1/tasks/", nil)
	require.Equal(t, HTTPAction{FaultID: "f4", Status: 502}, rules.Decide(req))
	require.Equal(t, HTTPAction{}, rules.Decide(httptest.NewRequest("POST", "/api/v2/jobs/1/result/", nil)))
	require.NoError(t, heal(context.Background()))
	require.Equal(t, HTTPAction{}, rules.Decide(req))

	heal = inject(t, env, "f5", "", Spec{Name: "http_drop_response", Attrs: Attrs{"probability": "0.5"}})
	defer func() { require.NoError(t, heal(context.Background())) }()
	hits := 0
	for range 1000 {
		if rules.Decide(req).DropResponse {
			hits++
		}
	}
	require.InDelta(t, 500, hits, 100)
}

func TestProcessFaults(t *testing.T) {
	p := &fakeProcess{}
	env := &testEnv{proc: p, rng: rand.New(rand.NewSource(3))}
	for _, s := range []Spec{
		{Name: "nats_restart", Attrs: Attrs{"node": "2", "kill": "true"}},
		{Name: "worker_crash", Attrs: Attrs{"after": "process"}},
		{Name: "cancel_job"},
	} {
		require.NoError(t, inject(t, env, "f1", "", s)(context.Background()))
	}
	require.Equal(t, []string{"restart 2 true", "crash worker process", "cancel"}, p.Calls())

	heal := inject(t, env, "f2", "", Spec{Name: "processor_crash", Attrs: Attrs{"every": "3"}})
	var got []bool
	for range 6 {
		got = append(got, p.crash())
	}
	require.Equal(t, []bool{false, false, true, false, false, true}, got)
	require.NoError(t, heal(context.Background()))
	require.Nil(t, p.crash)

	heal = inject(t, env, "f3", "", Spec{Name: "nats_pause", Attrs: Attrs{"for": "1h"}})
	polltest.CheckFor(t, time.Second, 5*time.Millisecond, func() error {
		if len(p.Calls()) < 4 {
			return context.DeadlineExceeded
		}
		return nil
	})
	require.NoError(t, heal(context.Background()))
	require.Equal(t, []string{"pause 0 1h0m0s", "resumed early"}, p.Calls()[3:])

	_, err := act{name: "cancel_job", do: Process.CancelJob}.Inject(context.Background(), &testEnv{})
	require.ErrorIs(t, err, errNoProcess)
}

func httptestRequest() *http.Request { return httptest.NewRequest("GET", "/api/v2/", nil) }
