// Package redact removes credentials from what a message or a log line
// prints.
package redact

import "net/url"

// URL is raw without its user information: a Toxiproxy or monitoring URL
// may carry credentials (basic auth), never printed. A URL that does not
// parse is "(unparsable url)".
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	u.User = nil
	return u.String()
}
