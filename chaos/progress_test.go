package chaos

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/internal/syncio"
)

// TestProgressLine: the live line follows the phase and the active fault;
// off a terminal it prints a plain line per phase (not one per second) and
// the last state when it stops; on a terminal it redraws in place, and a
// line printed meanwhile clears it first.
func TestProgressLine(t *testing.T) {
	live := newLiveStats(nil)
	live.observe(&history.Event{Kind: history.KindPhase, Name: history.PhaseWarmup})
	live.observe(&history.Event{Kind: history.KindPublish})
	require.Equal(t, "warmup  fault: none  tasks 0 stored / 1 published", live.runLine())
	live.observe(&history.Event{Kind: history.KindFault, ID: "f1", Name: "kill-nats", Phase: "start"})
	require.Contains(t, live.runLine(), "fault: kill-nats")

	var plain syncio.Buffer
	l := &liveLine{w: &plain}
	fresh := newLiveStats(nil)
	require.Equal(t, "starting  fault: none  tasks 0 stored / 0 published", fresh.runLine())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.loop(ctx, 0, live.runLine, func() string { p, _ := live.now(); return p })
	}()
	polltest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if !strings.Contains(plain.String(), "natschaos: warmup") {
			return fmt.Errorf("no line at the start: %q", plain.String())
		}
		return nil
	})
	live.observe(&history.Event{Kind: history.KindPhase, Name: history.PhaseChaos})
	polltest.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		if !strings.Contains(plain.String(), "natschaos: chaos") {
			return fmt.Errorf("no line at the new phase: %q", plain.String())
		}
		return nil
	})
	live.observe(&history.Event{Kind: history.KindFault, ID: "f1", Phase: "end"})
	live.observe(&history.Event{Kind: history.KindPhase, Name: history.PhaseEnd})
	cancel()
	<-done
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	require.Len(t, lines, 3, "the start, one line per phase seen, none per second: %q", plain.String())
	require.Equal(t, "natschaos: warmup  fault: kill-nats  tasks 0 stored / 1 published", lines[0], "the state at the start, at once")
	require.Contains(t, lines[1], "natschaos: chaos  fault: kill-nats")
	require.Equal(t, "natschaos: end  fault: none  tasks 0 stored / 1 published", lines[2], "the last state when it stops")
	require.NotContains(t, plain.String(), "\r")

	var term bytes.Buffer
	tl := &liveLine{w: &term, terminal: true}
	tl.draw("a")
	tl.Println("cell done")
	tl.draw("b")
	tl.end()
	require.Equal(t, "\r\033[Ka\r\033[Kcell done\n\r\033[Kb\n", term.String())
}

// TestVerifyLine: verify's line names each running cell with its phase and
// active fault, and counts the cells done and gone wrong.
func TestVerifyLine(t *testing.T) {
	cells := []Cell{{Variant: "good", Scenario: "baseline"}, {Variant: "ack-before-store", Scenario: "nats-down"}}
	live := newLiveStats(nil)
	live.observe(&history.Event{Kind: history.KindPhase, Name: history.PhaseChaos})
	live.observe(&history.Event{Kind: history.KindFault, ID: "f", Name: "kill-nats", Phase: "start"})
	got := verifyLine(61*time.Second, 1, 2, 0, cells, map[int]*liveStats{1: live})
	require.Equal(t, "verify 1m1s  cells 1 of 2 done, 0 not as expected so far  running: ack-before-store/nats-down chaos (kill-nats)", got)
}
