package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
)

// TestDrainLimitFromConsumer: the drain is bounded by the consumer's
// ack_wait and max_deliver as read, not the scenario's; the line that says
// so names both.
func TestDrainLimitFromConsumer(t *testing.T) {
	sc := Scenario{Name: "x"}.WithDefaults() // ack_wait 2s, max_deliver 3
	require.Equal(t, 3*2*time.Second+DrainGrace, drainLimit(sc, history.Event{}, false), "no config: the scenario's")

	prod := history.Event{Kind: history.KindConfig, AckWait: 300, MaxDeliver: 5, MaxAckPending: 1000}
	require.Equal(t, 5*300*time.Second+DrainGrace, drainLimit(sc, prod, true))
	line := consumerDiffers(sc, prod)
	require.Contains(t, line, "ack_wait 5m0s, max_deliver 5, max_ack_pending 1000 differ from the scenario's (2s, 3, 1000)")
	require.Contains(t, line, "up to 25m3s")

	unlimited := history.Event{Kind: history.KindConfig, AckWait: 30, MaxDeliver: -1, MaxAckPending: 1000}
	require.Equal(t, 3*30*time.Second+DrainGrace, drainLimit(sc, unlimited, true), "unlimited max_deliver: the scenario's M")

	same := history.Event{Kind: history.KindConfig, AckWait: 2, MaxDeliver: 3, MaxAckPending: DefaultMaxAckPending}
	require.Empty(t, consumerDiffers(sc, same))
}
