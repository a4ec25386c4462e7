package redact

import "testing"

func TestURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://user:secret@127.0.0.1:8474/proxies": "http://127.0.0.1:8474/proxies",
		"http://127.0.0.1:8222":                     "http://127.0.0.1:8222",
		"http://user@[::1]:8222/varz?x=1":           "http://[::1]:8222/varz?x=1",
		"http://user:secret@bad host":               "(unparsable url)",
	} {
		if got := URL(raw); got != want {
			t.Errorf("URL(%q) = %q, want %q", raw, got, want)
		}
	}
}
