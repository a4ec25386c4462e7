package harness

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
)

// The config event comes first even when it is known last, and times never
// go backwards: what external mode relies on, because several checkers judge
// nothing before the config event.
func TestGateWritesTheOpeningEventFirst(t *testing.T) {
	var sink memSink
	now := 1.0
	g := NewGate(&sink, func() float64 { return now })

	g.Emit(history.Event{Kind: history.KindPublish, Task: "1-1"})
	now = 1.5
	g.Emit(history.Event{Kind: history.KindHandout, Task: "1-1"})
	require.Empty(t, sink.events, "nothing passes a closed gate")
	require.False(t, g.IsOpen())

	now = 2.0
	g.Open(history.Event{Kind: history.KindConfig, AckWait: 2})
	g.Emit(history.Event{Kind: history.KindAck})

	require.Len(t, sink.events, 4)
	require.Equal(t, history.KindConfig, sink.events[0].Kind)
	require.Equal(t, 1.0, sink.events[0].T, "the config takes the time of the first held event")
	require.Equal(t, []history.Kind{history.KindConfig, history.KindPublish, history.KindHandout, history.KindAck},
		[]history.Kind{sink.events[0].Kind, sink.events[1].Kind, sink.events[2].Kind, sink.events[3].Kind})
	require.Equal(t, 1.5, sink.events[2].T, "held events keep the time they happened at")
	require.Zero(t, sink.events[3].T, "after Open, the sink stamps events itself")
}

func TestGateReleaseKeepsWhatHappened(t *testing.T) {
	var sink memSink
	g := NewGate(&sink, func() float64 { return 3 })
	g.Emit(history.Event{Kind: history.KindPhase, Name: history.PhaseWarmup})
	g.Release()
	g.Release()
	g.Emit(history.Event{Kind: history.KindPhase, Name: history.PhaseEnd})
	require.Len(t, sink.events, 2)
	require.Equal(t, 3.0, sink.events[0].T)
}

// A nats:// URL's user information never shows in what Redact returns.
func TestRedact(t *testing.T) {
	u := "nats://alice:s3cret-pw@127.0.0.1:4222"
	msg := "connect to " + u + ": nats: authorization violation (password s3cret-pw)"
	got := Redact(msg, u)
	require.NotContains(t, got, "s3cret-pw")
	require.NotContains(t, got, "alice:")
	require.Equal(t, "nats://127.0.0.1:4222", StripUser(u))
}
