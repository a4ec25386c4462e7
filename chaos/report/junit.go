package report

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// JUnit XML, as CI systems read it: a <testsuites> of <testsuite>s, each of
// <testcase>s that hold a <failure>, an <error> or a <skipped>.

// JUnitTestSuites is the root element of a JUnit file.
type JUnitTestSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr"`
	JUnitCounts
	Time   string           `xml:"time,attr"`
	Suites []JUnitTestSuite `xml:"testsuite"`
}

// JUnitCounts are the totals of a suite, or of every suite of the file.
type JUnitCounts struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
}

// JUnitTestSuite is one scenario, or one cell of the verification matrix.
type JUnitTestSuite struct {
	Name string `xml:"name,attr"`
	JUnitCounts
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property,omitempty"`
	Cases      []JUnitTestCase `xml:"testcase"`
}

// JUnitProperty is a name/value pair of a suite (seed, variant, results).
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitTestCase is one check.
type JUnitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitProblem `xml:"failure,omitempty"`
	Error     *JUnitProblem `xml:"error,omitempty"`
	Skipped   *JUnitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitProblem is a <failure> or an <error>: a one-line message and a body.
type JUnitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// JUnitSkipped is a <skipped>: a check that could not decide.
type JUnitSkipped struct {
	Message string `xml:"message,attr"`
}

// MaxOffendingJUnit is how many offending events a <failure> body lists.
const MaxOffendingJUnit = 10

// seconds formats a duration in seconds as JUnit's time attribute.
func seconds(s float64) string { return fmt.Sprintf("%.3f", max(s, 0)) }

// JUnitSuite is the report as a <testsuite> named name (the scenario, or
// variant/scenario for a matrix cell): a <testcase> per check, whose
// classname is name; a violated check is a <failure> with the check's
// summary as message and its first offending events as body; a check that
// could not decide is <skipped> with why (a <failure> under --strict); an
// inconclusive run adds an <error> testcase "verdict" saying why. dir, when
// not empty, is the results directory named in the properties.
func (r *Report) JUnitSuite(name, dir string) JUnitTestSuite {
	s := JUnitTestSuite{Name: name, Time: seconds(r.DurationSeconds)}
	s.Properties = []JUnitProperty{
		{Name: "scenario", Value: r.Scenario}, {Name: "variant", Value: r.Variant},
		{Name: "seed", Value: fmt.Sprint(r.Seed)}, {Name: "verdict", Value: r.Verdict},
	}
	if dir != "" {
		s.Properties = append(s.Properties, JUnitProperty{Name: "results", Value: dir})
	}
	if r.Provenance != nil {
		s.Timestamp = strings.TrimSuffix(r.Provenance.Started, "Z")
	}
	for _, c := range r.Checks {
		tc := JUnitTestCase{Name: c.Name, Classname: name, Time: seconds(0)}
		switch {
		case c.OK != nil && !*c.OK:
			tc.Failure = &JUnitProblem{Message: oneLine(c.Summary), Type: "violated", Body: offendingText(c)}
		case c.OK == nil && r.Strict:
			tc.Failure = &JUnitProblem{Message: "could not decide (--strict): " + oneLine(c.Why), Type: "unknown"}
		case c.OK == nil:
			why := oneLine(c.Why)
			if why == "" {
				why = oneLine(c.Summary)
			}
			tc.Skipped = &JUnitSkipped{Message: "could not decide: " + why}
		default:
			tc.SystemOut = c.Summary
		}
		s.Cases = append(s.Cases, tc)
	}
	if r.Verdict == Inconclusive {
		s.Cases = append(s.Cases, JUnitTestCase{Name: "verdict", Classname: name, Time: seconds(0),
			Error: &JUnitProblem{Message: "inconclusive: " + oneLine(r.Why()), Type: "inconclusive", Body: r.Why()}})
	}
	s.Count()
	return s
}

// offendingText lists a check's first offending events, one per line.
func offendingText(c Check) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d violations\n", c.Name, c.Violations)
	writeOffending(&b, c.Offending, MaxOffendingJUnit, "", "%s: %s\n")
	return b.String()
}

// Count sets the suite's tests, failures, errors and skipped from its cases.
func (s *JUnitTestSuite) Count() {
	s.Tests, s.Failures, s.Errors, s.Skipped = len(s.Cases), 0, 0, 0
	for _, c := range s.Cases {
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Error != nil:
			s.Errors++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
}

// NewJUnit gathers suites under a <testsuites> named name, with the totals.
func NewJUnit(name string, suites []JUnitTestSuite) *JUnitTestSuites {
	t := &JUnitTestSuites{Name: name, Suites: suites}
	var secs float64
	for _, s := range suites {
		t.Tests += s.Tests
		t.Failures += s.Failures
		t.Errors += s.Errors
		t.Skipped += s.Skipped
		var f float64
		if _, err := fmt.Sscan(s.Time, &f); err == nil {
			secs += f
		}
	}
	t.Time = seconds(secs)
	return t
}

// Marshal returns the file's XML, with its header.
func (t *JUnitTestSuites) Marshal() ([]byte, error) {
	b, err := xml.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// Write writes the JUnit file to path, replacing it; its directory is
// created.
func (t *JUnitTestSuites) Write(path string) error {
	b, err := t.Marshal()
	if err != nil {
		return err
	}
	return writeFile(path, b)
}

// writeFile writes b to path through a temporary file and a rename.
func writeFile(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
