package natsd_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
)

// TestForgetStream: nats-server keeps the "direct gets" queue of every
// deleted stream registered; ForgetStream drops the deleted streams'
// entries and leaves those of a stream that exists.
func TestForgetStream(t *testing.T) {
	s := natsdtest.StartNATS(t)
	_, js := natsdtest.ConnectJS(t, s.ClientURL())
	ctx := t.Context()
	gets := func() []string {
		st := s.NATS().Ipqueuesz(&server.IpqueueszOptions{All: true, Filter: "direct gets"})
		var names []string
		for n := range *st {
			names = append(names, n)
		}
		sort.Strings(names)
		return names
	}
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "kept", Subjects: []string{"kept"}})
	require.NoError(t, err)
	const n = 20
	for i := range n {
		name := fmt.Sprintf("gone_%d", i)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name}})
		require.NoError(t, err)
		require.NoError(t, js.DeleteStream(ctx, name))
	}
	require.Len(t, gets(), n+1, "nats-server no longer keeps a deleted stream's queue: ForgetStream can go")

	for i := range n {
		s.ForgetStream(fmt.Sprintf("gone_%d", i))
	}
	left := gets()
	require.Len(t, left, 1, "%q", left)
	require.True(t, strings.Contains(left[0], "'kept'"), "%q", left)

	// The stream kept still takes messages.
	_, err = js.Publish(ctx, "kept", []byte("x"))
	require.NoError(t, err)
}
