package faults

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// LinkPolicy says which link a fault takes.
type LinkPolicy int

const (
	// AnyLink faults act on the Toxiproxy proxy of one link, which must be given.
	AnyLink LinkPolicy = iota
	// HTTPLink faults act in the worker-api reverse proxy; the link may be
	// omitted and otherwise must be worker-api.
	HTTPLink
	// NoLink faults act on processes, not on a link; giving one is an error.
	NoLink
)

// Def describes one fault of the vocabulary.
type Def struct {
	Name    string     // as written in a scenario file
	Family  string     // toxic, proxy, http or process: the file that implements it
	Doc     string     // one line
	Attrs   []string   // the attributes it takes
	Link    LinkPolicy // which link it takes
	Instant bool       // it happens at once (no window to hold open); "for" is refused
	build   func(id, link string, a Attrs) (Fault, error)
}

var (
	toxicAttrs = []string{"direction", "toxicity"}
	httpAttrs  = []string{"probability", "path", "method"}
)

func withCommon(common []string, own ...string) []string {
	return append(own, common...)
}

// All returns every fault of the vocabulary (docs/scenarios.md), in the order of
// docs/scenarios.md.
func All() []Def {
	return []Def{
		{Name: "latency", Family: "toxic", Doc: "delay data by latency ± jitter (default direction downstream)",
			Attrs: withCommon(toxicAttrs, "latency", "jitter"), build: buildLatency},
		{Name: "bandwidth", Family: "toxic", Doc: "limit throughput to rate KB/s (default direction downstream)",
			Attrs: withCommon(toxicAttrs, "rate"), build: buildBandwidth},
		{Name: "slow_close", Family: "toxic", Doc: "delay the close of a connection by delay (default direction downstream)",
			Attrs: withCommon(toxicAttrs, "delay"), build: buildSlowClose},
		{Name: "blackhole", Family: "toxic", Doc: "hold all data, keep connections open: a half-open peer (default direction both)",
			Attrs: withCommon(toxicAttrs), build: buildBlackhole},
		{Name: "timeout", Family: "toxic", Doc: "hold all data and close the connection after timeout (default direction both)",
			Attrs: withCommon(toxicAttrs, "timeout"), build: buildTimeout},
		{Name: "reset", Family: "toxic", Doc: "reset the connection (TCP RST) timeout after data arrives (default direction both)",
			Attrs: withCommon(toxicAttrs, "timeout"), build: buildReset},
		{Name: "slicer", Family: "toxic", Doc: "slice data into average_size ± size_variation byte pieces, delay apart (default direction downstream)",
			Attrs: withCommon(toxicAttrs, "average_size", "size_variation", "delay"), build: buildSlicer},
		{Name: "limit_data", Family: "toxic", Doc: "close the connection after bytes bytes (default direction downstream)",
			Attrs: withCommon(toxicAttrs, "bytes"), build: buildLimitData},
		{Name: "down", Family: "proxy", Doc: "disable the link's proxy: connections refused, open ones closed",
			build: buildDown},
		{Name: "http_status", Family: "http", Doc: "answer code without calling the API",
			Attrs: withCommon(httpAttrs, "code"), Link: HTTPLink, build: buildHTTPStatus},
		{Name: "http_delay", Family: "http", Doc: "hold the API's response for delay before sending it",
			Attrs: withCommon(httpAttrs, "delay"), Link: HTTPLink, build: buildHTTPDelay},
		{Name: "http_drop_response", Family: "http", Doc: "call the API (it commits), then close without a response",
			Attrs: withCommon(httpAttrs), Link: HTTPLink, build: buildHTTPDrop},
		{Name: "http_abort", Family: "http", Doc: "send the headers and part of the body, then close",
			Attrs: withCommon(httpAttrs), Link: HTTPLink, build: buildHTTPAbort},
		{Name: "nats_restart", Family: "process", Doc: "stop NATS node and start it again on the same store and port (kill: SIGKILL)",
			Attrs: []string{"node", "kill"}, Link: NoLink, Instant: true, build: buildNATSRestart},
		{Name: "nats_pause", Family: "process", Doc: "SIGSTOP an external NATS node for a while (for), then SIGCONT",
			Attrs: []string{"node", "for"}, Link: NoLink, Instant: true, build: buildNATSPause},
		{Name: "worker_crash", Family: "process", Doc: "a worker stops dead after receive or process; no result is posted",
			Attrs: []string{"after"}, Link: NoLink, Instant: true, build: buildWorkerCrash},
		{Name: "processor_crash", Family: "process", Doc: "the result processor dies between save and ack for one result in every N or with probability",
			Attrs: []string{"every", "probability"}, Link: NoLink, build: buildProcessorCrash},
		{Name: "cancel_job", Family: "process", Doc: "cancel the job through the API",
			Link: NoLink, Instant: true, build: buildCancelJob},
	}
}

// Lookup returns the fault named name.
func Lookup(name string) (Def, bool) {
	for _, d := range All() {
		if d.Name == name {
			return d, true
		}
	}
	return Def{}, false
}

// Names returns the names of every fault, in the order of [All].
func Names() []string {
	var n []string
	for _, d := range All() {
		n = append(n, d.Name)
	}
	return n
}

// Spec is a fault as a scenario writes it: a name from the vocabulary and
// its attributes, not yet bound to a link or a window.
type Spec struct {
	Name  string
	Attrs Attrs
}

// Validate checks the name and every attribute. Error paths start with the
// fault's name ("latency.jitter").
func (s Spec) Validate() error {
	_, err := s.Build("check", s.defaultLink())
	return err
}

func (s Spec) defaultLink() string {
	d, ok := Lookup(s.Name)
	if !ok {
		return ""
	}
	switch d.Link {
	case AnyLink:
		return LinkAPINATS
	case HTTPLink:
		return LinkWorkerAPI
	}
	return ""
}

// Build returns the fault ready to inject as the window id on link (the
// link is checked against the fault's [LinkPolicy]; "" is fine for HTTP and
// process faults).
func (s Spec) Build(id, link string) (Fault, error) {
	d, ok := Lookup(s.Name)
	if !ok {
		return nil, fieldErr(s.Name, "unknown fault %q (known: %s)", s.Name, strings.Join(Names(), ", "))
	}
	if err := CheckLink(d, link); err != nil {
		return nil, err
	}
	if d.Link == HTTPLink {
		link = LinkWorkerAPI
	}
	f, err := d.build(id, link, s.Attrs)
	if err != nil {
		return nil, PrefixPath(s.Name, err)
	}
	return f, nil
}

// span is how long an instant fault's window lasts (nats_pause: its "for").
func (s Spec) span() time.Duration {
	if s.Name != "nats_pause" {
		return 0
	}
	d, _ := ParseDuration(strings.TrimSpace(s.Attrs["for"]))
	return d
}

// CheckLink checks link against d's [LinkPolicy]; the error's path is "link".
func CheckLink(d Def, link string) error {
	switch d.Link {
	case AnyLink:
		if link == "" {
			return fieldErr("link", "%s needs a link (%s)", d.Name, strings.Join(linkNames(), ", "))
		}
		return ValidLink(link)
	case HTTPLink:
		if link != "" && link != LinkWorkerAPI {
			return fieldErr("link", "%s acts on %s only, not %q", d.Name, LinkWorkerAPI, link)
		}
	case NoLink:
		if link != "" {
			return fieldErr("link", "%s acts on a process and takes no link", d.Name)
		}
	}
	return nil
}

// RouteLink is the name of the n-th cluster route link ("route-1", ...).
func RouteLink(n int) string { return "route-" + strconv.Itoa(n) }

func linkNames() []string {
	return []string{LinkAPINATS, LinkWorkerAPI, LinkResultsNATS, "route-N"}
}

// ValidLink refuses a link that does not exist; the error's path is "link".
func ValidLink(link string) error {
	switch link {
	case LinkAPINATS, LinkWorkerAPI, LinkResultsNATS:
		return nil
	}
	if n, ok := strings.CutPrefix(link, "route-"); ok {
		if i, err := strconv.Atoi(n); err == nil && i >= 1 && RouteLink(i) == link {
			return nil
		}
	}
	return fieldErr("link", "unknown link %q (known: %s)", link, strings.Join(linkNames(), ", "))
}

// sortedAttrNames returns the names of a in order, for stable output.
func sortedAttrNames(a Attrs) []string {
	n := make([]string, 0, len(a))
	for k := range a {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
