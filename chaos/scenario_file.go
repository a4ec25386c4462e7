package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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
func ParseScenario(file string, data []byte) (Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Scenario{}, syntaxError(file, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return Scenario{}, &FileError{File: file, Line: 1, Msg: "empty scenario file"}
	}
	doc := root.Content[0]
	d := &decoder{file: file}
	var s Scenario
	d.scenario(doc, &s)
	if d.err != nil {
		return Scenario{}, d.err
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
		n = deref(n)
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

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// decoder walks the node tree, keeping the first error.
type decoder struct {
	file string
	err  *FileError
}

func (d *decoder) fail(n *yaml.Node, path, format string, a ...any) {
	if d.err == nil {
		d.err = &FileError{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, a...)}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
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
	}
	return "something else"
}

type field func(v *yaml.Node, path string)

// mapping decodes a mapping whose keys must all be in fields.
func (d *decoder) mapping(n *yaml.Node, path string, fields map[string]field) {
	n = deref(n)
	if d.err != nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	d.pairs(n, path, func(k string, kn, v *yaml.Node) {
		f, ok := fields[k]
		if !ok {
			known := make([]string, 0, len(fields))
			for name := range fields {
				known = append(known, name)
			}
			sort.Strings(known)
			d.fail(kn, join(path, k), "unknown field %q (known: %s)", k, strings.Join(known, ", "))
			return
		}
		f(v, join(path, k))
	})
}

// pairs calls f for each key of mapping n, refusing non-string and
// duplicate keys.
func (d *decoder) pairs(n *yaml.Node, path string, f func(k string, kn, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content) && d.err == nil; i += 2 {
		kn, v := deref(n.Content[i]), deref(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode || kn.Tag == "!!null" {
			d.fail(kn, path, "a key must be a name, got %s", kindName(kn))
			return
		}
		if kn.Tag == "!!merge" {
			d.fail(kn, path, "merge keys (<<) are not supported")
			return
		}
		if seen[kn.Value] {
			d.fail(kn, join(path, kn.Value), "%q given twice", kn.Value)
			return
		}
		seen[kn.Value] = true
		f(kn.Value, kn, v)
	}
}

func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.fail(n, path, "want a value, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(p *string) field {
	return func(n *yaml.Node, path string) {
		if v, ok := d.scalar(n, path); ok {
			if n.Tag != "!!str" {
				d.fail(n, path, "want a string, got %s", kindName(n))
				return
			}
			*p = v
		}
	}
}

func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	v, ok := d.scalar(n, path)
	if !ok {
		return 0, false
	}
	dur, err := faults.ParseDuration(v)
	if err != nil {
		d.fail(n, path, "%v", err)
		return 0, false
	}
	return dur, true
}

func (d *decoder) dur(p *time.Duration) field {
	return func(n *yaml.Node, path string) {
		if v, ok := d.duration(n, path); ok {
			*p = v
		}
	}
}

func (d *decoder) int64(n *yaml.Node, path string) (int64, bool) {
	v, ok := d.scalar(n, path)
	if !ok {
		return 0, false
	}
	if n.Tag != "!!int" {
		d.fail(n, path, "want an integer, got %s", kindName(n))
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 0, 64)
	if err != nil {
		d.fail(n, path, "integer %s out of range", v)
		return 0, false
	}
	return i, true
}

func (d *decoder) int(p *int) field {
	return func(n *yaml.Node, path string) {
		if v, ok := d.int64(n, path); ok {
			if v > math.MaxInt32 || v < math.MinInt32 {
				d.fail(n, path, "integer %d out of range", v)
				return
			}
			*p = int(v)
		}
	}
}

func (d *decoder) intPtr(p **int) field {
	return func(n *yaml.Node, path string) {
		var i int
		d.int(&i)(n, path)
		if d.err == nil {
			*p = &i
		}
	}
}

func (d *decoder) scenario(n *yaml.Node, s *Scenario) {
	d.mapping(n, "", map[string]field{
		"name":        d.str(&s.Name),
		"description": d.str(&s.Description),
		"proves":      d.str(&s.Proves),
		"seed": func(n *yaml.Node, path string) {
			if v, ok := d.int64(n, path); ok {
				if v == 0 {
					d.fail(n, path, "seed 0 means unset: leave it out or pick another")
				}
				s.Seed = v
			}
		},
		"sut": func(n *yaml.Node, path string) {
			u := &s.SUT
			d.mapping(n, path, map[string]field{
				"variant":         d.str(&u.Variant),
				"ack_wait":        d.dur(&u.AckWait),
				"max_deliver":     d.int(&u.MaxDeliver),
				"max_ack_pending": d.int(&u.MaxAckPending),
				"connect_timeout": d.dur(&u.ConnectTimeout),
				"op_timeout":      d.dur(&u.OpTimeout),
				"fetch_wait":      d.dur(&u.FetchWait),
				"max_concurrent":  d.int(&u.MaxConcurrent),
				"processes":       d.int(&u.Processes),
				"threads":         d.int(&u.Threads),
				"cluster":         d.int(&u.Cluster),
			})
		},
		"workload": func(n *yaml.Node, path string) {
			w := &s.Workload
			d.mapping(n, path, map[string]field{
				"tasks":          d.int(&w.Tasks),
				"workers":        d.int(&w.Workers),
				"worker":         d.str(&w.Worker),
				"batch_size":     d.int(&w.BatchSize),
				"alt_batch_size": d.int(&w.AltBatchSize),
				"http_timeout":   d.dur(&w.HTTPTimeout),
				"process_time":   d.dur(&w.ProcessTime),
				"fetchers":       d.int(&w.Fetchers),
				"idle_sleep":     d.dur(&w.IdleSleep),
				"jobs":           d.jobs(&w.Jobs),
				"worker_groups":  d.workerGroups(&w.WorkerGroups),
			})
		},
		"warmup": d.dur(&s.Warmup),
		"chaos":  d.dur(&s.Chaos),
		"faults": func(n *yaml.Node, path string) {
			d.list(n, path, func(item *yaml.Node, p string) {
				var st faults.Step
				d.step(item, p, &st, true)
				s.Faults = append(s.Faults, st)
			})
		},
		"nemesis": func(n *yaml.Node, path string) {
			s.Nemesis = &faults.Nemesis{}
			d.nemesis(n, path, s.Nemesis)
		},
		"expect": func(n *yaml.Node, path string) {
			e := &s.Expect
			d.mapping(n, path, map[string]field{
				"orphaned":   d.int(&e.Orphaned),
				"max_stall":  d.dur(&e.MaxStall),
				"duplicates": d.intPtr(&e.Duplicates),
				"late_acks":  d.int(&e.LateAcks),
				"probe_p99":  d.dur(&e.ProbeP99),
				"tolerance":  d.dur(&e.Tolerance),
			})
		},
	})
}

func (d *decoder) list(n *yaml.Node, path string, item func(*yaml.Node, string)) {
	n = deref(n)
	if d.err != nil {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", kindName(n))
		return
	}
	for i, c := range n.Content {
		if d.err != nil {
			return
		}
		item(deref(c), fmt.Sprintf("%s[%d]", path, i))
	}
}

// step decodes a schedule step: at, for, every, link and exactly one fault
// (a nemesis choice when timed is false: link and one fault).
func (d *decoder) step(n *yaml.Node, path string, st *faults.Step, timed bool) {
	if d.err != nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	timing := map[string]*time.Duration{"at": &st.At, "for": &st.For, "every": &st.Every}
	d.pairs(n, path, func(k string, kn, v *yaml.Node) {
		p := join(path, k)
		if dp, ok := timing[k]; ok && timed {
			d.dur(dp)(v, p)
			return
		}
		if k == "link" {
			d.str(&st.Link)(v, p)
			return
		}
		if _, ok := faults.Lookup(k); !ok {
			fields := "link"
			if timed {
				fields = "at, for, every, link"
			}
			d.fail(kn, p, "unknown field %q (a step takes %s and one fault: %s)", k, fields, strings.Join(faults.Names(), ", "))
			return
		}
		if st.Fault.Name != "" {
			d.fail(kn, p, "one fault per step: %s and %s", st.Fault.Name, k)
			return
		}
		st.Fault = faults.Spec{Name: k, Attrs: d.attrs(v, p)}
	})
	if d.err == nil && st.Fault.Name == "" {
		d.fail(n, path, "a step needs a fault (%s)", strings.Join(faults.Names(), ", "))
	}
}

// attrs decodes a fault's attributes: a mapping of names to scalars, or
// nothing.
func (d *decoder) attrs(n *yaml.Node, path string) faults.Attrs {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want the fault's attributes as a mapping ({} for none), got %s", kindName(n))
		return nil
	}
	var a faults.Attrs
	d.pairs(n, path, func(k string, _, v *yaml.Node) {
		if s, ok := d.scalar(v, join(path, k)); ok {
			if a == nil {
				a = faults.Attrs{}
			}
			a[k] = s
		}
	})
	return a
}

func (d *decoder) nemesis(n *yaml.Node, path string, nem *faults.Nemesis) {
	d.mapping(n, path, map[string]field{
		"faults": func(n *yaml.Node, path string) {
			d.list(n, path, func(item *yaml.Node, p string) {
				var st faults.Step
				d.step(item, p, &st, false)
				nem.Faults = append(nem.Faults, faults.Choice{Link: st.Link, Fault: st.Fault})
			})
		},
		"interval": d.rangeOf(&nem.Interval),
		"duration": d.rangeOf(&nem.Duration),
	})
}

func (d *decoder) rangeOf(r *faults.Range) field {
	return func(n *yaml.Node, path string) {
		n = deref(n)
		if n.Kind != yaml.SequenceNode || len(n.Content) != 2 {
			d.fail(n, path, "want [min, max], got %s", kindName(n))
			return
		}
		d.dur(&r.Min)(deref(n.Content[0]), path+"[0]")
		d.dur(&r.Max)(deref(n.Content[1]), path+"[1]")
	}
}

// MarshalYAML writes s as a scenario file: every setting as it is in s (so
// a scenario with its defaults filled in writes them all), the nemesis as
// written — resolve it first ([Scenario.Resolve]) to write concrete steps.
// [ParseScenario] of the output gives s back.
func (s Scenario) MarshalYAML() (any, error) {
	m := &mapNode{n: &yaml.Node{Kind: yaml.MappingNode}}
	m.str("name", s.Name)
	m.str("description", s.Description)
	m.str("proves", s.Proves)
	if s.Seed != 0 {
		m.add("seed", intNode(s.Seed))
	}
	sut := &mapNode{n: &yaml.Node{Kind: yaml.MappingNode}}
	sut.str("variant", s.SUT.Variant)
	sut.dur("ack_wait", s.SUT.AckWait)
	sut.int("max_deliver", s.SUT.MaxDeliver)
	sut.int("max_ack_pending", s.SUT.MaxAckPending)
	sut.dur("connect_timeout", s.SUT.ConnectTimeout)
	sut.dur("op_timeout", s.SUT.OpTimeout)
	sut.dur("fetch_wait", s.SUT.FetchWait)
	sut.int("max_concurrent", s.SUT.MaxConcurrent)
	sut.int("processes", s.SUT.Processes)
	sut.int("threads", s.SUT.Threads)
	sut.int("cluster", s.SUT.Cluster)
	m.sub("sut", sut)
	w := &mapNode{n: &yaml.Node{Kind: yaml.MappingNode}}
	w.int("tasks", s.Workload.Tasks)
	w.int("workers", s.Workload.Workers)
	w.str("worker", s.Workload.Worker)
	w.int("batch_size", s.Workload.BatchSize)
	w.int("alt_batch_size", s.Workload.AltBatchSize)
	w.dur("http_timeout", s.Workload.HTTPTimeout)
	w.dur("process_time", s.Workload.ProcessTime)
	w.int("fetchers", s.Workload.Fetchers)
	w.dur("idle_sleep", s.Workload.IdleSleep)
	addJobs(w, s.Workload)
	m.sub("workload", w)
	m.dur("warmup", s.Warmup)
	m.dur("chaos", s.Chaos)
	if len(s.Faults) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, st := range s.Faults {
			seq.Content = append(seq.Content, stepNode(st, true))
		}
		m.add("faults", seq)
	}
	if s.Nemesis != nil {
		nm := &mapNode{n: &yaml.Node{Kind: yaml.MappingNode}}
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, c := range s.Nemesis.Faults {
			seq.Content = append(seq.Content, stepNode(faults.Step{Link: c.Link, Fault: c.Fault}, false))
		}
		nm.add("faults", seq)
		nm.add("interval", rangeNode(s.Nemesis.Interval))
		nm.add("duration", rangeNode(s.Nemesis.Duration))
		m.add("nemesis", nm.n)
	}
	e := &mapNode{n: &yaml.Node{Kind: yaml.MappingNode}}
	e.int("orphaned", s.Expect.Orphaned)
	e.dur("max_stall", s.Expect.MaxStall)
	if s.Expect.Duplicates != nil {
		e.add("duplicates", intNode(int64(*s.Expect.Duplicates)))
	}
	e.int("late_acks", s.Expect.LateAcks)
	e.dur("probe_p99", s.Expect.ProbeP99)
	e.dur("tolerance", s.Expect.Tolerance)
	m.sub("expect", e)
	return m.n, nil
}

// WriteScenario writes s to w as YAML (see [Scenario.MarshalYAML]).
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

type mapNode struct{ n *yaml.Node }

func (m *mapNode) add(k string, v *yaml.Node) {
	m.n.Content = append(m.n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
}

func (m *mapNode) str(k, v string) {
	if v != "" {
		m.add(k, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v})
	}
}

func (m *mapNode) int(k string, v int) {
	if v != 0 {
		m.add(k, intNode(int64(v)))
	}
}

func (m *mapNode) dur(k string, v time.Duration) {
	if v != 0 {
		m.add(k, durNode(v))
	}
}

func (m *mapNode) sub(k string, v *mapNode) {
	if len(v.n.Content) > 0 {
		m.add(k, v.n)
	}
}

func intNode(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

func durNode(v time.Duration) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.String()}
}

func rangeNode(r faults.Range) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{durNode(r.Min), durNode(r.Max)}}
}

func stepNode(st faults.Step, timed bool) *yaml.Node {
	m := &mapNode{n: &yaml.Node{Kind: yaml.MappingNode}}
	if timed {
		m.add("at", durNode(st.At))
		m.dur("for", st.For)
		m.dur("every", st.Every)
	}
	m.str("link", st.Link)
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
		if resolvesToNull(v.Value) {
			v.Tag = "!!str" // quoted, so that it reads back as text
		}
		attrs.Content = append(attrs.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
	}
	m.add(st.Fault.Name, attrs)
	return m.n
}

func resolvesToNull(v string) bool {
	switch v {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}
