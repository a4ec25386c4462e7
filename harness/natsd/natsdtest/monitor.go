package natsdtest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/internal/natsmon"
)

// monitorClient opens a connection per read, so that no idle keep-alive
// outlives a test (goleak).
var monitorClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

// Monitor reads the JSON document at path of s's monitoring port ("/varz",
// "/jsz?consumers=true") into v, failing t on an error or a status other
// than 200.
func Monitor(t testing.TB, s *natsd.Server, path string, v any) {
	t.Helper()
	require.NoError(t, natsmon.Get(context.Background(), monitorClient, s.MonitorURL()+path, v), "%s%s", s.MonitorURL(), path)
}
