package protocol

import (
	"bytes"
	"fmt"
	"strings"
)

// SubjectPattern is a NATS subject with the server's wildcards: "*" stands
// for one token, ">" (last only) for one or more. The nats_drop fault names
// the requests it drops with one, e.g. "$JS.API.STREAM.DELETE.>".
type SubjectPattern struct{ tokens []string }

// ParseSubjectPattern parses s; the error says what is wrong with it.
func ParseSubjectPattern(s string) (SubjectPattern, error) {
	if s == "" {
		return SubjectPattern{}, fmt.Errorf("empty subject")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return SubjectPattern{}, fmt.Errorf("subject %q has white space", s)
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return SubjectPattern{}, fmt.Errorf("subject %q has an empty token", s)
		case t == ">" && i != len(tokens)-1:
			return SubjectPattern{}, fmt.Errorf("subject %q: \">\" may only be the last token", s)
		case len(t) > 1 && strings.ContainsAny(t, "*>"):
			return SubjectPattern{}, fmt.Errorf("subject %q: a wildcard must be a whole token", s)
		}
	}
	return SubjectPattern{tokens: tokens}, nil
}

// String is the pattern as written.
func (p SubjectPattern) String() string { return strings.Join(p.tokens, ".") }

// Match reports whether subject is one of p's (the zero pattern matches
// nothing). It does not allocate.
func (p SubjectPattern) Match(subject []byte) bool {
	for i, tok := range p.tokens {
		if tok == ">" {
			return len(subject) > 0
		}
		head, rest, more := bytes.Cut(subject, []byte{'.'})
		if len(head) == 0 || tok != "*" && string(head) != tok {
			return false
		}
		if !more {
			return i == len(p.tokens)-1
		}
		subject = rest
	}
	return false
}
