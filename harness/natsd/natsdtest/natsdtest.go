// Package natsdtest starts embedded NATS servers for tests, as
// net/http/httptest starts HTTP servers.
package natsdtest

import (
	"testing"

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
