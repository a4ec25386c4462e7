package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSoakUsage: bad soak flags exit 2 before anything starts, naming the flag.
func TestSoakUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"soak"}, "--duration"},
		{[]string{"soak", "--duration", "1m", "--job-size", "10-5"}, "--job-size"},
		{[]string{"soak", "--duration", "1m", "--job-size", "x"}, "--job-size"},
		{[]string{"soak", "--duration", "1m", "--variant", "nope"}, "--variant"},
		{[]string{"soak", "--duration", "1m", "--jobs-in-flight", "0"}, "--jobs-in-flight"},
		{[]string{"soak", "--duration", "1m", "--task-rate", "0"}, "--task-rate"},
		{[]string{"soak", "--duration", "1m", "--task-rate", "-5"}, "--task-rate"},
		{[]string{"soak", "--duration", "1m", "--task-rate", "1e9"}, "--task-rate"},
		{[]string{"soak", "--duration", "1m", "--task-rate", "NaN"}, "--task-rate"},
		{[]string{"soak", "--duration", "1m", "--task-rate", "fast"}, "--task-rate"},
		{[]string{"soak", "--duration", "1m", "-s", "no-such-scenario"}, "no-such-scenario"},
	} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(new(bytes.Buffer))
		root.SetArgs(append(tc.args, "--out", t.TempDir()))
		err := root.ExecuteContext(t.Context())
		require.Equal(t, 2, exitCode(err), "%v: %v", tc.args, err)
		require.Empty(t, out.String())
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
	lo, hi, err := parseRange("300")
	require.NoError(t, err)
	require.Equal(t, [2]int{300, 300}, [2]int{lo, hi})
}
