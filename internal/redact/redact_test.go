package redact

import "testing"

func TestURL(t *testing.T) {
	cases := []struct{ name, raw, want string }{
		{"user and password go", "http://user:secret@127.0.0.1:8474/proxies", "http://127.0.0.1:8474/proxies"},
		{"a URL without them stays", "http://127.0.0.1:8222", "http://127.0.0.1:8222"},
		{"path and query stay", "http://user@[::1]:8222/varz?x=1", "http://[::1]:8222/varz?x=1"},
		{"an unparsable URL says nothing of itself", "http://user:secret@bad host", "(unparsable url)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := URL(c.raw); got != c.want {
				t.Errorf("URL(%q) = %q, want %q", c.raw, got, c.want)
			}
		})
	}
}
