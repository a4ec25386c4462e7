package faults

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimitDataClosesAfterBytes(t *testing.T) {
	env, addrs := embeddedEnv(t, LinkAPINATS)
	heal := inject(t, env, "f2", LinkAPINATS, Spec{Name: "limit_data", Attrs: Attrs{"bytes": "4", "direction": "downstream"}})
	defer func() { require.NoError(t, heal(context.Background())) }()
	c, err := net.Dial("tcp", addrs[LinkAPINATS])
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	_, err = c.Write([]byte("0123456789"))
	require.NoError(t, err)
	got, err := io.ReadAll(c)
	require.NoError(t, err, "closed cleanly after the limit")
	require.Equal(t, "0123", string(got))
}

func TestLimitDataAttributes(t *testing.T) {
	_, err := Spec{Name: "limit_data", Attrs: Attrs{"bytes": "-1"}}.Build("f1", LinkAPINATS)
	require.ErrorContains(t, err, "limit_data.bytes: bytes -1 must be ≥ 0")
	f, err := Spec{Name: "limit_data", Attrs: Attrs{"bytes": "512", "direction": "both"}}.Build("f1", LinkResultsNATS)
	require.NoError(t, err)
	ts, err := f.(toxicFault).Toxics()
	require.NoError(t, err)
	require.Equal(t, []Toxic{
		{Name: "f1-limit_data-upstream", Type: "limit_data", Stream: "upstream", Toxicity: 1, Attributes: map[string]any{"bytes": int64(512)}},
		{Name: "f1-limit_data-downstream", Type: "limit_data", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"bytes": int64(512)}},
	}, ts)
	d, _ := Lookup("limit_data")
	require.NoError(t, d.describe())
}
