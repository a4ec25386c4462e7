// Package natsdtest starts embedded NATS servers for tests, as
// net/http/httptest starts HTTP servers, connects to them and reads their
// monitoring port.
package natsdtest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd"
)

// StartNATS starts an embedded server with opts for one test, failing t if
// it does not start; t.Cleanup closes it.
func StartNATS(t testing.TB, opts ...natsd.Option) *natsd.Server {
	t.Helper()
	s, err := natsd.Start(opts...)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// ConnectJS connects to the NATS at url, closed when the test ends, and
// returns the connection with its JetStream context.
func ConnectJS(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return nc, js
}
