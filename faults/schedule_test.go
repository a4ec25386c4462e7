package faults

import (
	"context"
	"errors"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
)

var testNemesis = &Nemesis{
	Faults: []Choice{
		{Link: LinkAPINATS, Fault: Spec{Name: "latency", Attrs: Attrs{"latency": "50ms"}}},
		{Link: LinkAPINATS, Fault: Spec{Name: "down"}},
		{Fault: Spec{Name: "nats_restart"}},
		{Fault: Spec{Name: "http_drop_response", Attrs: Attrs{"probability": "0.2"}}},
	},
	Interval: Range{Min: 200 * time.Millisecond, Max: 2 * time.Second},
	Duration: Range{Min: 500 * time.Millisecond, Max: 3 * time.Second},
}

func TestSameSeedSameSchedule(t *testing.T) {
	steps := []Step{{At: time.Second, For: 2 * time.Second, Link: LinkAPINATS, Fault: Spec{Name: "down"}}}
	a := Resolve(steps, testNemesis, time.Minute, rand.New(rand.NewSource(42)))
	b := Resolve(steps, testNemesis, time.Minute, rand.New(rand.NewSource(42)))
	c := Resolve(steps, testNemesis, time.Minute, rand.New(rand.NewSource(43)))
	require.Equal(t, a, b)
	require.NotEqual(t, a, c)
	require.Greater(t, len(a), 10)

	// Expanding the nemesis into steps gives the same windows.
	drawn := testNemesis.Steps(time.Minute, rand.New(rand.NewSource(42)))
	for _, s := range drawn {
		require.NoError(t, s.Validate(time.Minute))
	}
	require.Equal(t, a, Resolve(append(steps, drawn...), nil, time.Minute, nil))

	var prevEnd time.Duration
	for _, st := range drawn {
		require.Greater(t, st.At, prevEnd, "nemesis faults do not overlap")
		prevEnd = st.At + st.For
	}
	for _, w := range a {
		require.LessOrEqual(t, w.Start, w.End)
		require.LessOrEqual(t, w.End, time.Minute)
		if w.Name == "http_drop_response" {
			require.Equal(t, LinkWorkerAPI, w.Link)
		}
	}
}

func TestResolveSteps(t *testing.T) {
	ws := Resolve([]Step{
		{At: 4 * time.Second, Fault: Spec{Name: "cancel_job"}},
		{At: time.Second, For: 500 * time.Millisecond, Every: 2 * time.Second, Link: LinkResultsNATS, Fault: Spec{Name: "reset"}},
		{At: 3 * time.Second, Link: LinkAPINATS, Fault: Spec{Name: "down"}},
		{At: 9 * time.Second, For: 5 * time.Second, Link: LinkAPINATS, Fault: Spec{Name: "blackhole"}},
	}, nil, 10*time.Second, nil)
	type w struct {
		id, name   string
		start, end time.Duration
	}
	var got []w
	for _, x := range ws {
		got = append(got, w{x.ID, x.Name, x.Start, x.End})
	}
	s := time.Second
	require.Equal(t, []w{
		{"f1", "reset", 1 * s, 1500 * time.Millisecond},
		{"f2", "reset", 3 * s, 3500 * time.Millisecond},
		{"f3", "down", 3 * s, 10 * s},
		{"f4", "cancel_job", 4 * s, 4 * s},
		{"f5", "reset", 5 * s, 5500 * time.Millisecond},
		{"f6", "reset", 7 * s, 7500 * time.Millisecond},
		{"f7", "reset", 9 * s, 9500 * time.Millisecond},
		{"f8", "blackhole", 9 * s, 10 * s},
	}, got)
}

func TestStepValidation(t *testing.T) {
	down := Spec{Name: "down"}
	for _, tc := range []struct {
		step Step
		err  string
	}{
		{Step{At: -time.Second, Link: LinkAPINATS, Fault: down}, "at: negative duration"},
		{Step{At: 20 * time.Second, Link: LinkAPINATS, Fault: down}, "at: at 20s is not inside the chaos phase (10s)"},
		{Step{Every: time.Second, Link: LinkAPINATS, Fault: down}, "for: a repeated step (every) needs a for"},
		{Step{For: 2 * time.Second, Every: time.Second, Link: LinkAPINATS, Fault: down}, "for: for 2s is longer than every 1s"},
		{Step{For: time.Second, Fault: Spec{Name: "cancel_job"}}, "for: cancel_job happens at once"},
		{Step{Fault: down}, "link: down needs a link"},
		{Step{Link: LinkAPINATS, Fault: Spec{Name: "latency", Attrs: Attrs{"latency": "x"}}}, `latency.latency: not a duration: "x"`},
	} {
		require.ErrorContains(t, tc.step.Validate(10*time.Second), tc.err)
	}
	require.ErrorContains(t, (&Nemesis{}).Validate(), "faults: a nemesis needs at least one fault")
	n := *testNemesis
	n.Interval = Range{Min: 2 * time.Second, Max: time.Second}
	require.ErrorContains(t, n.Validate(), "interval: max 1s below min 2s")
	require.NoError(t, testNemesis.Validate())
}

func TestRunnerPlaysAndHeals(t *testing.T) {
	e, addrs := embedded(t, LinkAPINATS)
	env := &testEnv{proxies: e, http: &HTTPRules{}, proc: &fakeProcess{}, rng: rand.New(rand.NewSource(1))}
	ws := Resolve([]Step{
		{At: 0, For: 100 * time.Millisecond, Link: LinkAPINATS, Fault: Spec{Name: "down"}},
		{At: 50 * time.Millisecond, Fault: Spec{Name: "cancel_job"}},
	}, nil, 200*time.Millisecond, nil)
	sink := history.NewMemory()
	r := &Runner{Env: env, Sink: sink}
	start := time.Now()
	require.NoError(t, r.Run(context.Background(), ws))
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	_, err := roundTrip(addrs[LinkAPINATS], time.Second)
	require.NoError(t, err)

	var got []string
	for _, ev := range sink.Events() {
		require.Equal(t, history.KindFault, ev.Kind)
		got = append(got, ev.ID+" "+ev.Name+" "+ev.Link+" "+ev.Phase+" "+strings.Join(ev.Effects.Names(), ","))
	}
	require.Equal(t, []string{
		"f1 down api-nats start link-down,nats-unreachable",
		"f2 cancel_job  start job-cancelled",
		"f2 cancel_job  end ",
		"f1 down api-nats end ",
	}, got, "a start records what the fault does on its link")
}

func TestRunnerHealsOnCancel(t *testing.T) {
	e, addrs := embedded(t, LinkAPINATS, LinkResultsNATS)
	rules := &HTTPRules{}
	env := &testEnv{proxies: e, http: rules, proc: &fakeProcess{}, rng: rand.New(rand.NewSource(1))}
	ws := Resolve([]Step{
		{Link: LinkAPINATS, Fault: Spec{Name: "down"}},
		{Link: LinkResultsNATS, Fault: Spec{Name: "blackhole"}},
		{Fault: Spec{Name: "http_status", Attrs: Attrs{"code": "500"}}},
		{At: time.Hour - time.Second, Link: LinkAPINATS, Fault: Spec{Name: "latency", Attrs: Attrs{"latency": "1s"}}},
	}, nil, time.Hour, nil)
	sink := history.NewMemory()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Runner{Env: env, Sink: sink}).Run(ctx, ws) }()

	polltest.CheckFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		if len(sink.Events()) < 3 {
			return errors.New("faults not started")
		}
		return nil
	})
	_, err := roundTrip(addrs[LinkAPINATS], 200*time.Millisecond)
	require.Error(t, err, "down while the runner runs")
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("runner did not stop on cancel")
	}
	for l, a := range addrs {
		_, err := roundTrip(a, 2*time.Second)
		require.NoError(t, err, "%s healed after cancel", l)
	}
	require.Equal(t, HTTPAction{}, rules.Decide(httptestRequest()))
	ends := 0
	for _, ev := range sink.Events() {
		if ev.Phase == "end" {
			ends++
		}
	}
	require.Equal(t, 3, ends, "every started window ends")
}

func TestRunnerStopsOnInjectError(t *testing.T) {
	e, _ := embedded(t, LinkAPINATS)
	env := &testEnv{proxies: e, rng: rand.New(rand.NewSource(1))}
	ws := Resolve([]Step{
		{Link: LinkAPINATS, Fault: Spec{Name: "down"}},
		{At: time.Millisecond, Link: LinkResultsNATS, Fault: Spec{Name: "down"}}, // no such proxy
	}, nil, time.Minute, nil)
	err := (&Runner{Env: env}).Run(context.Background(), ws)
	require.ErrorIs(t, err, ErrNoProxy)
	p, perr := e.proxy(LinkAPINATS)
	require.NoError(t, perr)
	require.True(t, p.Enabled, "healed after the failure")
}

// slowCancel is a Process whose cancel waits for release, or fails.
type slowCancel struct {
	fakeProcess
	release chan struct{}
	err     error
}

func (p *slowCancel) CancelJob(ctx context.Context) error {
	if p.err != nil {
		return p.err
	}
	select {
	case <-p.release:
	case <-ctx.Done():
	}
	return nil
}

// TestRunnerActionDoesNotHoldTheSchedule: a cancel the API takes long to
// answer does not delay the windows after it — the down heals on time while
// the cancel still waits — and Run returns once the cancel has; an action
// that fails stops the schedule with its error.
func TestRunnerActionDoesNotHoldTheSchedule(t *testing.T) {
	e, addrs := embedded(t, LinkAPINATS)
	proc := &slowCancel{release: make(chan struct{})}
	env := &testEnv{proxies: e, http: &HTTPRules{}, proc: proc, rng: rand.New(rand.NewSource(1))}
	ws := Resolve([]Step{
		{At: 0, Fault: Spec{Name: "cancel_job"}},
		{At: 10 * time.Millisecond, For: 50 * time.Millisecond, Link: LinkAPINATS, Fault: Spec{Name: "down"}},
	}, nil, 100*time.Millisecond, nil)
	sink := history.NewMemory()
	done := make(chan error, 1)
	go func() { done <- (&Runner{Env: env, Sink: sink}).Run(context.Background(), ws) }()
	phases := func() (out []string) {
		for _, ev := range sink.Events() {
			out = append(out, ev.ID+" "+ev.Phase)
		}
		return out
	}
	polltest.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if !slices.Contains(phases(), "f2 end") {
			return errors.New("the down has not ended yet")
		}
		return nil
	})
	_, err := roundTrip(addrs[LinkAPINATS], time.Second)
	require.NoError(t, err, "healed on time, the cancel still waiting")
	select {
	case err := <-done:
		t.Fatalf("Run returned before its cancel did: %v", err)
	default:
	}
	close(proc.release)
	require.NoError(t, <-done)
	require.Equal(t, []string{"f2 start", "f2 end", "f1 start", "f1 end"}, phases(), "a cancel's start is written once it is answered")

	failing := &testEnv{proxies: e, http: &HTTPRules{}, proc: &slowCancel{err: errors.New("refused")}, rng: rand.New(rand.NewSource(1))}
	ws = Resolve([]Step{
		{At: 0, Fault: Spec{Name: "cancel_job"}},
		{At: time.Hour - time.Second, Link: LinkAPINATS, Fault: Spec{Name: "down"}},
	}, nil, time.Hour, nil)
	err = (&Runner{Env: failing}).Run(context.Background(), ws)
	require.ErrorContains(t, err, "inject f1 cancel_job")
	require.ErrorContains(t, err, "refused")
}
