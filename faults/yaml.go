package faults

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DecodeError is a schedule step, nemesis choice or range that a scenario
// file spells wrong. Line is its line in the file (1-based); Path names the
// field relative to the value decoded, as [FieldError] does ("latency",
// "at", "" for the value itself).
type DecodeError struct {
	Line int
	Path string
	Msg  string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Path, e.Msg)
}

func decodeErr(n *yaml.Node, path, format string, a ...any) error {
	return &DecodeError{Line: n.Line, Path: path, Msg: fmt.Sprintf(format, a...)}
}

// NodeKind describes a YAML node for an error message: "a mapping", "a
// list", "nothing", `str "many"`.
func NodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

// Deref follows alias nodes to the node they name.
func Deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// Pairs calls f for each key of mapping n (aliases followed) and stops at
// the first error; it refuses keys that are not names, merge keys (<<) and
// keys given twice. Paths of its errors are the key's.
func Pairs(n *yaml.Node, f func(key string, kn, v *yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := Deref(n.Content[i]), Deref(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode || kn.Tag == "!!null" {
			return decodeErr(kn, "", "a key must be a name, got %s", NodeKind(kn))
		}
		if kn.Tag == "!!merge" {
			return decodeErr(kn, "", "merge keys (<<) are not supported")
		}
		if seen[kn.Value] {
			return decodeErr(kn, kn.Value, "%q given twice", kn.Value)
		}
		seen[kn.Value] = true
		if err := f(kn.Value, kn, v); err != nil {
			return err
		}
	}
	return nil
}

// DecodeDuration reads a duration scalar with [ParseDuration].
func DecodeDuration(n *yaml.Node) (time.Duration, error) {
	n = Deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return 0, decodeErr(n, "", "want a value, got %s", NodeKind(n))
	}
	d, err := ParseDuration(n.Value)
	if err != nil {
		return 0, decodeErr(n, "", "%v", err)
	}
	return d, nil
}

// UnmarshalYAML decodes a step of a scenario file's schedule: at, for,
// every, link and exactly one fault, the fault's attributes as a mapping
// ({} or nothing for none). Errors are *DecodeError.
func (s *Step) UnmarshalYAML(n *yaml.Node) error {
	*s = Step{}
	return decodeStep(n, s, true)
}

// MarshalYAML writes the step as [Step.UnmarshalYAML] reads it.
func (s Step) MarshalYAML() (any, error) { return stepNode(s, true), nil }

// UnmarshalYAML decodes one of a nemesis' faults: link and exactly one
// fault, as a step without timing. Errors are *DecodeError.
func (c *Choice) UnmarshalYAML(n *yaml.Node) error {
	var st Step
	if err := decodeStep(n, &st, false); err != nil {
		return err
	}
	*c = Choice{Link: st.Link, Fault: st.Fault}
	return nil
}

// MarshalYAML writes the choice as [Choice.UnmarshalYAML] reads it.
func (c Choice) MarshalYAML() (any, error) {
	return stepNode(Step{Link: c.Link, Fault: c.Fault}, false), nil
}

// UnmarshalYAML decodes a range written [min, max]. Errors are
// *DecodeError.
func (r *Range) UnmarshalYAML(n *yaml.Node) error {
	n = Deref(n)
	if n.Kind != yaml.SequenceNode || len(n.Content) != 2 {
		return decodeErr(n, "", "want [min, max], got %s", NodeKind(n))
	}
	var err error
	for i, p := range []*time.Duration{&r.Min, &r.Max} {
		if *p, err = DecodeDuration(n.Content[i]); err != nil {
			return PrefixDecode(fmt.Sprintf("[%d]", i), err)
		}
	}
	return nil
}

// MarshalYAML writes the range as [min, max].
func (r Range) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{durNode(r.Min), durNode(r.Max)}}, nil
}

// PrefixDecode prefixes the path of a *DecodeError with prefix ("faults[0]"
// or "[1]"); other errors are returned as they are.
func PrefixDecode(prefix string, err error) error {
	de, ok := err.(*DecodeError)
	if !ok {
		return err
	}
	fe := PrefixPath(prefix, &FieldError{Path: de.Path}).(*FieldError)
	return &DecodeError{Line: de.Line, Path: fe.Path, Msg: de.Msg}
}

func decodeStep(n *yaml.Node, st *Step, timed bool) error {
	n = Deref(n)
	if n.Kind != yaml.MappingNode {
		return decodeErr(n, "", "want a mapping, got %s", NodeKind(n))
	}
	timing := map[string]*time.Duration{"at": &st.At, "for": &st.For, "every": &st.Every}
	err := Pairs(n, func(k string, kn, v *yaml.Node) error {
		if dp, ok := timing[k]; ok && timed {
			d, err := DecodeDuration(v)
			*dp = d
			return PrefixDecode(k, err)
		}
		if k == "link" {
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
				return decodeErr(v, k, "want a string, got %s", NodeKind(v))
			}
			st.Link = v.Value
			return nil
		}
		if _, ok := Lookup(k); !ok {
			fields := "link"
			if timed {
				fields = "at, for, every, link"
			}
			return decodeErr(kn, k, "unknown field %q (a step takes %s and one fault: %s)", k, fields, strings.Join(Names(), ", "))
		}
		if st.Fault.Name != "" {
			return decodeErr(kn, k, "one fault per step: %s and %s", st.Fault.Name, k)
		}
		a, err := decodeAttrs(v)
		st.Fault = Spec{Name: k, Attrs: a}
		return PrefixDecode(k, err)
	})
	if err != nil {
		return err
	}
	if st.Fault.Name == "" {
		return decodeErr(n, "", "a step needs a fault (%s)", strings.Join(Names(), ", "))
	}
	return nil
}

// decodeAttrs decodes a fault's attributes: a mapping of names to
// scalars, or nothing.
func decodeAttrs(n *yaml.Node) (Attrs, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, decodeErr(n, "", "want the fault's attributes as a mapping ({} for none), got %s", NodeKind(n))
	}
	var a Attrs
	err := Pairs(n, func(k string, _, v *yaml.Node) error {
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return decodeErr(v, k, "want a value, got %s", NodeKind(v))
		}
		if a == nil {
			a = Attrs{}
		}
		a[k] = v.Value
		return nil
	})
	return a, err
}

type mapNode struct{ n *yaml.Node }

func (m *mapNode) add(k string, v *yaml.Node) {
	m.n.Content = append(m.n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
}

func durNode(v time.Duration) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.String()}
}

func stepNode(st Step, timed bool) *yaml.Node {
	m := &mapNode{n: &yaml.Node{Kind: yaml.MappingNode}}
	if timed {
		m.add("at", durNode(st.At))
		if st.For != 0 {
			m.add("for", durNode(st.For))
		}
		if st.Every != 0 {
			m.add("every", durNode(st.Every))
		}
	}
	if st.Link != "" {
		m.add("link", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: st.Link})
	}
	attrs := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	names := make([]string, 0, len(st.Fault.Attrs))
	for k := range st.Fault.Attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		// No tag: the encoder writes the text as it is, quoting only what
		// would not read back as the same text.
		v := &yaml.Node{Kind: yaml.ScalarNode, Value: st.Fault.Attrs[k]}
		switch v.Value {
		case "", "~", "null", "Null", "NULL":
			v.Tag = "!!str" // quoted, so that it reads back as text
		}
		attrs.Content = append(attrs.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
	}
	m.add(st.Fault.Name, attrs)
	return m.n
}
