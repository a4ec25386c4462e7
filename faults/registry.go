package faults

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/natschaos/natschaos/history"
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
	// NATSLink faults act in the recording tap of a NATS link (api-nats or
	// results-nats), which must be given.
	NATSLink
)

// Def describes one fault of the vocabulary: how a scenario writes it, what
// it needs from the target it runs against and what it does. Each fault
// registers its Def from the file that implements it ([register]).
type Def struct {
	Name    string     // as written in a scenario file
	Family  string     // toxic, proxy, tap, http or process (see families)
	Doc     string     // one line
	Attrs   []string   // the attributes it takes
	Link    LinkPolicy // which link it takes
	Instant bool       // it happens at once (no window to hold open); "for" is refused
	// Span names the duration attribute that is an instant fault's window
	// ("" = the window starts and ends at once).
	Span string
	// Needs is what the fault needs from a target ([Target]): at least one.
	Needs []Need
	// Effects is what the fault does, on any link ([Def.EffectsOn] adds
	// what that means on the link it acts on): at least one.
	Effects history.Effects
	build   func(id, link string, a Attrs) (Fault, error)
}

// families are the fault families, in the order [All] lists them.
var families = []string{"toxic", "proxy", "tap", "http", "process"}

var (
	toxicAttrs = []string{"direction", "toxicity"}
	httpAttrs  = []string{"probability", "path", "method"}
)

func withCommon(common []string, own ...string) []string {
	return append(own, common...)
}

// registry holds every fault by name; each fault's file adds its Def in an
// init function, so that adding a fault is one file (and its test).
var registry = map[string]Def{}

// register adds d to the vocabulary; a duplicate name is a programming error.
func register(d Def) {
	if _, dup := registry[d.Name]; dup {
		panic("faults: " + d.Name + " registered twice")
	}
	registry[d.Name] = d
}

// registerFamily registers defs as faults of family that take links of
// policy link and, unless needs is nil, need needs.
func registerFamily(family string, link LinkPolicy, needs []Need, defs ...Def) {
	for _, d := range defs {
		d.Family, d.Link = family, link
		if needs != nil {
			d.Needs = needs
		}
		register(d)
	}
}

// all is the vocabulary in the order of [All], built once.
var all = sync.OnceValue(func() []Def {
	defs := slices.Collect(maps.Values(registry))
	slices.SortFunc(defs, func(a, b Def) int {
		return cmp.Or(cmp.Compare(slices.Index(families, a.Family), slices.Index(families, b.Family)), cmp.Compare(a.Name, b.Name))
	})
	return defs
})

// All returns every fault of the vocabulary (docs/scenarios.md), by family
// (toxic, proxy, tap, http, process), then by name.
func All() []Def { return slices.Clone(all()) }

// Lookup returns the fault named name.
func Lookup(name string) (Def, bool) {
	d, ok := registry[name]
	return d, ok
}

// Names returns the names of every fault, in the order of [All].
func Names() []string {
	n := make([]string, 0, len(registry))
	for _, d := range all() {
		n = append(n, d.Name)
	}
	return n
}

// EffectsOn is what d does when it acts on link: its own effects, and what
// they mean there — connections on api-nats refused, held or reset make NATS
// unreachable from the API; cut partway, they cut its JetStream calls.
func (d Def) EffectsOn(link string) history.Effects {
	e := d.Effects
	if link == LinkAPINATS {
		if e.Has(history.EffectLinkDown) {
			e |= history.EffectNATSUnreachable
		}
		if e.Has(history.EffectLinkCut) {
			e |= history.EffectNATSCut
		}
	}
	return e
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
	case AnyLink, NATSLink:
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

// span is how long an instant fault's window lasts: its [Def.Span]
// attribute (nats_pause: its "for"), else 0.
func (s Spec) span() time.Duration {
	def, ok := Lookup(s.Name)
	if !ok || def.Span == "" {
		return 0
	}
	d, _ := ParseDuration(strings.TrimSpace(s.Attrs[def.Span]))
	return d
}

// Node is the NATS node s acts on (its node attribute; 0 = node 1) when its
// fault needs one ([NeedNATSNode]); ok is false otherwise, or when the
// attribute is not a number (Validate says so).
func (s Spec) Node() (node int, ok bool) {
	def, known := Lookup(s.Name)
	if !known || !slices.Contains(def.Needs, NeedNATSNode) {
		return 0, false
	}
	v, given := s.Attrs["node"]
	if !given {
		return 0, true
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	return n, err == nil
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
	case NATSLink:
		if link != LinkAPINATS && link != LinkResultsNATS {
			return fieldErr("link", "%s acts on a NATS link (%s or %s), not %q", d.Name, LinkAPINATS, LinkResultsNATS, link)
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
func sortedAttrNames(a Attrs) []string { return slices.Sorted(maps.Keys(a)) }

// describe reports what d lacks of its description, nil when it has it all:
// a family, a line of doc, a build function, at least one need, each known,
// the proxy need its link policy implies, at least one known effect, and a
// span among its attributes.
func (d Def) describe() error {
	switch {
	case !slices.Contains(families, d.Family):
		return fmt.Errorf("%s: family %q is not one of %v", d.Name, d.Family, families)
	case d.Doc == "":
		return fmt.Errorf("%s: no doc", d.Name)
	case d.build == nil:
		return fmt.Errorf("%s: no build function", d.Name)
	case len(d.Needs) == 0:
		return fmt.Errorf("%s: no needs: say what it needs from a target", d.Name)
	case d.Effects == 0:
		return fmt.Errorf("%s: no effects: say what it does", d.Name)
	case d.Effects&^history.AllEffects != 0:
		return fmt.Errorf("%s: effects %#x beyond the known ones", d.Name, uint32(d.Effects&^history.AllEffects))
	case (d.Link == AnyLink || d.Link == NATSLink) && !slices.Contains(d.Needs, NeedLinkProxy):
		return fmt.Errorf("%s acts on a link: it needs %s", d.Name, NeedLinkProxy)
	case d.Link == HTTPLink && !slices.Contains(d.Needs, NeedHTTPProxy):
		return fmt.Errorf("%s acts in the reverse proxy: it needs %s", d.Name, NeedHTTPProxy)
	case d.Span != "" && (!d.Instant || !slices.Contains(d.Attrs, d.Span)):
		return fmt.Errorf("%s: span %q must be an attribute of an instant fault", d.Name, d.Span)
	}
	for _, n := range d.Needs {
		if _, ok := needText[n]; !ok {
			return fmt.Errorf("%s: unknown need %q", d.Name, n)
		}
	}
	return nil
}
