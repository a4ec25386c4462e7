package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactArgs(t *testing.T) {
	secret := "s3cr%40t%2Fpw" // percent-encoded: s3cr@t/pw
	in := []string{
		"run", "-s", "baseline", "--api-token", "tok123", "--nats-password=" + secret,
		"--nats-url", "nats://alice:" + secret + "@127.0.0.1:4222,nats://bob:pw2@127.0.0.1:4223",
		"--api-url=http://carol:" + secret + "@127.0.0.1:8000/api/v2", "--nats-user", "alice", "--nats-creds", "/tmp/x.creds",
		"--my-secret-thing", "v", "--seed", "7", "--toxiproxy", "http://dave:p%zz@127.0.0.1:8474", "--", "--api-token", "http://eve:pw@h/",
	}
	got := redactArgs(in)
	want := []string{
		"run", "-s", "baseline", "--api-token", "REDACTED", "--nats-password=REDACTED",
		"--nats-url", "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
		"--api-url=http://127.0.0.1:8000/api/v2", "--nats-user", "REDACTED", "--nats-creds", "REDACTED",
		"--my-secret-thing", "REDACTED", "--seed", "7", "--toxiproxy", "http://127.0.0.1:8474", "--", "--api-token", "http://h/",
	}
	require.Equal(t, want, got)
	joined := strings.Join(got, " ")
	for _, s := range []string{"tok123", secret, "s3cr@t", "alice", "bob", "carol", "dave", "eve", "pw2", "x.creds"} {
		require.NotContains(t, joined, s)
	}
	require.Equal(t, []string{"natschaos", "check", "h.jsonl"}, commandLine(withCommandLine(context.Background(), []string{"check", "h.jsonl"})))
}
