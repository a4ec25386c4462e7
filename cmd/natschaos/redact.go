package main

import (
	"context"
	"net/url"
	"strings"
)

// redacted stands for a secret removed from a command line.
const redacted = "REDACTED"

// secretWords are the parts of a flag's name that make its value a secret.
var secretWords = []string{"token", "password", "secret", "user", "creds"}

// redactArgs is the command line args without its secrets, as report.json's
// provenance records it: the value of every flag whose name contains token,
// password, secret, user or creds becomes REDACTED (in both --flag VALUE and
// --flag=VALUE forms), and URL-looking values lose their user information.
func redactArgs(args []string) []string {
	out := make([]string, 0, len(args))
	hideNext, flags := false, true
	for _, a := range args {
		switch {
		case hideNext:
			out, hideNext = append(out, redacted), false
		case flags && a == "--":
			out, flags = append(out, a), false
		case flags && strings.HasPrefix(a, "-") && len(a) > 1:
			name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			switch {
			case !secretFlag(name):
				if hasValue {
					a = a[:len(a)-len(value)] + redactURLs(value)
				}
				out = append(out, a)
			case hasValue:
				out = append(out, a[:len(a)-len(value)]+redacted)
			default:
				out, hideNext = append(out, a), true
			}
		default:
			out = append(out, redactURLs(a))
		}
	}
	return out
}

func secretFlag(name string) bool {
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// redactURLs strips the user information of every URL in a
// comma-separated value.
func redactURLs(v string) string {
	if !strings.Contains(v, "://") {
		return v
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = withoutUserinfo(p)
	}
	return strings.Join(parts, ",")
}

// withoutUserinfo is raw without its user information; a URL that does not
// parse loses everything between "://" and the last "@" of its authority.
func withoutUserinfo(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if u, err := url.Parse(raw); err == nil {
		if u.User == nil {
			return raw
		}
		u.User = nil
		return u.String()
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw
	}
	return scheme + "://" + rest[at+1:]
}

type commandLineKey struct{}

// withCommandLine records the (redacted) command line in ctx for the
// commands that write provenance.
func withCommandLine(ctx context.Context, args []string) context.Context {
	return context.WithValue(ctx, commandLineKey{}, append([]string{"natschaos"}, redactArgs(args)...))
}

// commandLine is the redacted command line of ctx (nil when not recorded).
func commandLine(ctx context.Context) []string {
	v, _ := ctx.Value(commandLineKey{}).([]string)
	return v
}
