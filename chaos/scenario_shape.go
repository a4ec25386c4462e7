package chaos

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/natschaos/natschaos/faults"
)

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// checkShape walks node n as the YAML library will decode it into a value
// of type t, by the same struct tags, and returns the first thing the
// library would refuse or take loosely — an unknown or doubled key, a
// string where an integer goes, a float into an integer, a duration
// without a unit — as a *faults.DecodeError naming the field as the file
// spells it ("workload.tasks", "faults[0].latency"). Values whose type
// decodes itself (a [yaml.Unmarshaler]: steps, choices, ranges) are decoded
// once here for their errors. Adding a field to [Scenario] or its parts
// needs nothing here: its tag is read. A bare 0 given for a duration is
// rewritten in n as "0s", the spelling the library reads.
func checkShape(n *yaml.Node, t reflect.Type, path string) (respelled bool, err error) {
	var c shapeCheck
	err = c.check(n, t, path)
	return c.respelled, err
}

// shapeCheck is one walk of checkShape.
type shapeCheck struct {
	respelled bool // a bare 0 duration was rewritten as "0s"
}

func (c *shapeCheck) check(n *yaml.Node, t reflect.Type, path string) error {
	n = faults.Deref(n)
	fail := func(format string, a ...any) error {
		return &faults.DecodeError{Line: n.Line, Path: path, Msg: fmt.Sprintf(format, a...)}
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		u := reflect.New(t).Interface().(yaml.Unmarshaler)
		return faults.PrefixDecode(path, u.UnmarshalYAML(n))
	}
	if t.Kind() == reflect.Struct {
		return c.checkStruct(n, t, path)
	}
	if t.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			return fail("want a list, got %s", faults.NodeKind(n))
		}
		for i, item := range n.Content {
			if err := c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return fail("want a value, got %s", faults.NodeKind(n))
	}
	switch {
	case t == durationType:
		d, err := faults.DecodeDuration(n)
		if err == nil && n.Tag != "!!str" {
			// A bare 0, the one number that needs no unit: the library
			// takes no number as a duration, so it is given the text.
			n.Tag, n.Value = "!!str", d.String()
			c.respelled = true
		}
		return faults.PrefixDecode(path, err)
	case t.Kind() == reflect.String:
		if n.Tag != "!!str" {
			return fail("want a string, got %s", faults.NodeKind(n))
		}
	case t.Kind() == reflect.Bool:
		if n.Tag != "!!bool" {
			return fail("want true or false, got %s", faults.NodeKind(n))
		}
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		if n.Tag != "!!int" {
			return fail("want an integer, got %s", faults.NodeKind(n))
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || t.Kind() == reflect.Int && (i > math.MaxInt32 || i < math.MinInt32) {
			return fail("integer %s out of range", n.Value)
		}
	default:
		return fail("a scenario file cannot set a %s", t)
	}
	return nil
}

// checkStruct checks a mapping against struct t's yaml tags.
func (c *shapeCheck) checkStruct(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.MappingNode {
		return &faults.DecodeError{Line: n.Line, Path: path, Msg: "want a mapping, got " + faults.NodeKind(n)}
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			fields[name] = t.Field(i).Type
		}
	}
	err := faults.Pairs(n, func(k string, kn, v *yaml.Node) error {
		ft, ok := fields[k]
		if !ok {
			known := make([]string, 0, len(fields))
			for name := range fields {
				known = append(known, name)
			}
			sort.Strings(known)
			return &faults.DecodeError{Line: kn.Line, Path: k, Msg: fmt.Sprintf("unknown field %q (known: %s)", k, strings.Join(known, ", "))}
		}
		return faults.PrefixDecode(k, c.check(v, ft, ""))
	})
	return faults.PrefixDecode(path, err)
}

// valueOf is the value of key in mapping n, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	n = faults.Deref(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return faults.Deref(n.Content[i+1])
		}
	}
	return nil
}

// yamlName is the key of struct field f in a scenario file, as the YAML
// library reads it ("" for a field a file cannot set).
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if !f.IsExported() || name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name) // the library's default
	}
	return name
}

// durations calls f with every duration setting of s outside its fault
// schedule (sut, workload, warmup, chaos, expect), named as a scenario
// file spells it ("sut.ack_wait"): [Scenario.Validate] bounds them and
// [Scenario.Scale] stretches them, so that a new duration field needs
// neither to list it.
func (s *Scenario) durations(f func(path string, d *time.Duration)) {
	walkDurations(reflect.ValueOf(s).Elem(), "", f)
}

func walkDurations(v reflect.Value, path string, f func(string, *time.Duration)) {
	for i := 0; i < v.NumField(); i++ {
		name := yamlName(v.Type().Field(i))
		if name == "" {
			continue
		}
		if path != "" {
			name = path + "." + name
		}
		switch fv := v.Field(i); {
		case fv.Type() == durationType:
			f(name, fv.Addr().Interface().(*time.Duration))
		case fv.Kind() == reflect.Struct:
			walkDurations(fv, name, f)
		}
	}
}
