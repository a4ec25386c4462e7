package harness

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// User information never survives StripUser or Redact: raw, percent-encoded
// as net/url writes it, decoded, or in a URL that does not parse.
func TestStripUserAndRedactPercentEncoded(t *testing.T) {
	for _, tc := range []struct {
		raw, stripped string
		secrets       []string
	}{
		{"http://user:p%40ss-91@api.example:8000/api/v2", "http://api.example:8000/api/v2", []string{"p%40ss-91", "p@ss-91"}},
		{"http://user:p%2Fss%3a-92@h", "http://h", []string{"p%2Fss%3a-92", "p/ss:-92", "p%2Fss%3A-92"}},
		{"nats://t0ken-93@127.0.0.1:4222", "nats://127.0.0.1:4222", []string{"t0ken-93"}},
		{"nats://u:%61%62c-94@127.0.0.1:4222", "nats://127.0.0.1:4222", []string{"%61%62c-94", "abc-94"}},
		{"http://u:bad%zz-95@h:1/x", "http://h:1/x", []string{"bad%zz-95"}}, // does not parse: cut textually
		{"http://u:a@b@h:1", "http://h:1", []string{"a@b"}},
	} {
		require.Equal(t, tc.stripped, StripUser(tc.raw), tc.raw)
		msg := "GET " + tc.raw + ": refused; password " + tc.secrets[len(tc.secrets)-1]
		for _, s := range tc.secrets {
			msg += " | " + s
		}
		got := Redact(msg, tc.raw)
		for _, s := range tc.secrets {
			require.NotContains(t, got, s, "%s: %s", tc.raw, got)
		}
	}
}

func TestCheckURL(t *testing.T) {
	require.NoError(t, CheckURL("--api-url", "https://u:p%40ss@h:443/api/v2", "http", "https"))
	for raw, want := range map[string]string{
		"ftp://u:s3cret@h":    `--api-url "ftp://h": scheme "ftp"`,
		"http://":             `--api-url "http:": no host`,
		"http://h:0":          `port "0" (want 1 to 65535)`,
		"http://h:x":          `--api-url "http://h:x": not a URL`,
		"http://u:s3%zz@h:80": `--api-url "http://h:80": not a URL`,
	} {
		err := CheckURL("--api-url", raw, "http", "https")
		require.ErrorContains(t, err, want, raw)
		require.NotContains(t, err.Error(), "s3", raw)
	}
}
