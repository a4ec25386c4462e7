package harness

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// CheckURL parses raw, the value of flag (for the error message), and
// refuses a URL whose scheme is not one of schemes, that has no host, or
// whose port is not a number from 1 to 65535. The error never carries the
// URL's user information: it shows [StripUser] of raw.
func CheckURL(flag, raw string, schemes ...string) error {
	want := schemes[0] + "://host:port"
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s %q: not a URL (want %s)", flag, StripUser(raw), want)
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("%s %q: scheme %q (want %s)", flag, StripUser(raw), u.Scheme, strings.Join(schemes, " or "))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%s %q: no host (want %s)", flag, StripUser(raw), want)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%s %q: port %q (want 1 to 65535)", flag, StripUser(raw), p)
		}
	}
	return nil
}

// StripUser is raw without its user information (user:password@), for
// printing. A URL that does not parse is cut textually: everything between
// "://" and the last "@" of the authority goes, so that a credential with
// a bad percent-encoding is not printed either.
func StripUser(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		u.User = nil
		return u.String()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		rest, scheme = raw, ""
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = rest[at+1:]
	}
	if !ok {
		return rest
	}
	return scheme + "://" + rest
}

// Redact removes from s the user information of each of urls
// (nats://user:pass@host) — as written, percent-encoded as net/url writes
// it, and decoded — so that an error or a log line never carries a
// credential.
func Redact(s string, urls ...string) string {
	for _, raw := range urls {
		var secrets []string
		if _, rest, ok := strings.Cut(raw, "://"); ok {
			if end := strings.IndexAny(rest, "/?#"); end >= 0 {
				rest = rest[:end]
			}
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				info := rest[:at]
				secrets = append(secrets, info)
				if _, pw, ok := strings.Cut(info, ":"); ok {
					secrets = append(secrets, pw)
					if dec, err := url.PathUnescape(pw); err == nil {
						secrets = append(secrets, dec)
					}
				}
			}
		}
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			secrets = append(secrets, u.User.String())
			if p, ok := u.User.Password(); ok {
				secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
			}
		}
		// Longest first, so that a password inside the whole userinfo does
		// not leave the user name's half behind.
		slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
		for _, sec := range secrets {
			if sec != "" {
				s = strings.ReplaceAll(s, sec, "redacted")
			}
		}
	}
	return s
}

// hostPort is the host:port of a nats:// URL (the default port when it has none).
func hostPort(raw, defPort string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("nats url %q: want nats://host:port", StripUser(raw))
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), defPort), nil
	}
	return u.Host, nil
}
