package natsdtest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd"
)

// monitorClient opens a connection per read, so that no idle keep-alive
// outlives a test (goleak).
var monitorClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

// Monitor reads the JSON document at path of s's monitoring port ("/varz",
// "/jsz?consumers=true") into v, failing t on an error or a status other
// than 200.
func Monitor(t testing.TB, s *natsd.Server, path string, v any) {
	t.Helper()
	resp, err := monitorClient.Get(s.MonitorURL() + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s%s", s.MonitorURL(), path)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}
