package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"os"
	"reflect"
	"regexp"

	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/natschaos/natschaos/faults"
)

// FileError is a scenario file that cannot run: it names the file, the line
// and the field (as the file spells it: "faults[0].latency.latency"). The
// command line exits 2 on it.
type FileError struct {
	File  string
	Line  int    // 1-based; 0 when unknown
	Field string // "" for a syntax error
	Msg   string
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// LoadScenario reads and parses the scenario file at path (see [ParseScenario]).
func LoadScenario(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, &FileError{File: path, Msg: err.Error()}
	}
	return ParseScenario(path, data)
}

// ParseScenario decodes a scenario file strictly — unknown keys, wrong
// types, impossible values, unknown links, faults and variants are refused
// with a *FileError naming file, line and field — and returns it with its
// defaults filled in ([Scenario.WithDefaults]) and validated.
//
// The YAML library decodes the file into [Scenario] by its struct tags, in
// known-fields mode; the steps, nemesis choices and ranges of the schedule
// decode themselves (their UnmarshalYAML in package faults). Before that,
// [checkShape] walks the same tags over the file's nodes so that a wrong
// key or type is reported with its field and line, which the library's own
// errors do not name.
func ParseScenario(file string, data []byte) (Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Scenario{}, syntaxError(file, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return Scenario{}, &FileError{File: file, Line: 1, Msg: "empty scenario file"}
	}
	doc := root.Content[0]
	respelled, err := checkShape(doc, reflect.TypeOf(Scenario{}), "")
	if err != nil {
		var de *faults.DecodeError
		if !errors.As(err, &de) {
			return Scenario{}, &FileError{File: file, Line: doc.Line, Msg: err.Error()}
		}
		return Scenario{}, &FileError{File: file, Line: de.Line, Field: de.Path, Msg: de.Msg}
	}
	if respelled {
		// The library reads the node tree as checkShape left it.
		if data, err = yaml.Marshal(doc); err != nil {
			return Scenario{}, &FileError{File: file, Line: doc.Line, Msg: err.Error()}
		}
	}
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, &FileError{File: file, Line: doc.Line, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if s.Seed == 0 {
		if n := valueOf(doc, "seed"); n != nil {
			return Scenario{}, &FileError{File: file, Line: n.Line, Field: "seed", Msg: "seed 0 means unset: leave it out or pick another"}
		}
	}
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		var fe *faults.FieldError
		if !errors.As(err, &fe) {
			return Scenario{}, &FileError{File: file, Line: doc.Line, Msg: err.Error()}
		}
		return Scenario{}, &FileError{File: file, Line: lineOf(doc, fe.Path), Field: fe.Path, Msg: fe.Msg}
	}
	return s, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &FileError{File: file, Line: n, Msg: m[2]}
	}
	return &FileError{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// lineOf finds the line of the field at path under n ("faults[0].for"),
// or of the deepest part of it that exists.
func lineOf(n *yaml.Node, path string) int {
	line := n.Line
	for _, tok := range splitPath(path) {
		n = faults.Deref(n)
		var next *yaml.Node
		if strings.HasPrefix(tok, "[") {
			i, err := strconv.Atoi(strings.Trim(tok, "[]"))
			if err == nil && n.Kind == yaml.SequenceNode && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		} else if n.Kind == yaml.MappingNode {
			for k := 0; k+1 < len(n.Content); k += 2 {
				if n.Content[k].Value == tok {
					next = n.Content[k+1]
					if next.Kind != yaml.ScalarNode || next.Line == 0 {
						line = n.Content[k].Line
					}
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		if n.Line > 0 {
			line = n.Line
		}
	}
	return line
}

func splitPath(path string) []string {
	var toks []string
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.Index(part, "[")
			switch {
			case i < 0:
				toks, part = append(toks, part), ""
			case i > 0:
				toks, part = append(toks, part[:i]), part[i:]
			default:
				j := strings.Index(part, "]")
				if j < 0 {
					return append(toks, part)
				}
				toks, part = append(toks, part[:j+1]), part[j+1:]
			}
		}
	}
	return toks
}

// WriteScenario writes s to w as a scenario file: the YAML library encodes
// it by the struct tags [ParseScenario] decodes it by — every setting as it
// is in s (so a scenario with its defaults filled in writes them all), the
// nemesis as written: resolve it first ([Scenario.Resolve]) to write
// concrete steps. [ParseScenario] of the output gives s back.
func WriteScenario(w io.Writer, s Scenario) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("encode scenario %s: %w", s.Name, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode scenario %s: %w", s.Name, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write scenario %s: %w", s.Name, err)
	}
	return nil
}

// WriteScenarioFile writes s to the file at path (see [WriteScenario]).
func WriteScenarioFile(path string, s Scenario) error {
	var buf bytes.Buffer
	if err := WriteScenario(&buf, s); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write scenario %s: %w", s.Name, err)
	}
	return nil
}
