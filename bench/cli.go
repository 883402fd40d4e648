package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// cliOptions are the flags that are not part of a Spec: what to do with results.
type cliOptions struct {
	json    bool
	html    string
	pin     string
	targets string
	pids    string
	metrics string
	kicks   string
	pause   time.Duration
}

const usage = `mqbench measures MQTT brokers.

usage:
  mqbench SCENARIO [flags]                       run one scenario against -url
  mqbench compare -targets a=URL,b=URL SCENARIO [flags]
                                                 run it against each target in turn, print ratios
  mqbench report [-md] [-html FILE] RESULTS.jsonl  tables (text or Markdown) and an HTML page from -json output
scenarios:
  conn      open -n connections at -rate per second, hold them for -duration
  pub       -pubs publishers for -duration or -count messages (pair with sub elsewhere)
  sub       -subs subscribers on the topic wildcard for -duration
  p2p       -pubs publisher→subscriber pairs, one topic per pair
  fanin     -pubs publishers → 1 subscriber on a wildcard
  fanout    1 publisher → -subs subscribers
  shared    -pubs publishers → -subs members of one $share group
  retained  publish -n retained messages, then time a subscription receiving them all
  storm     -n clients connect at once; after -duration POST -kick-url (the broker's disconnect-all
            endpoint) and every client reconnects the moment its connection ends; both waves reported
  stuck     -pubs publishers at full speed → -subs subscribers over -topics topics, of which the
            fraction -stuck stop reading once subscribed; reports what the broker does about them

run "mqbench SCENARIO -h" for the flags.
`

// Main is the mqbench command line; it returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] == "report" {
		return reportMain(args[1:], stdout, stderr)
	}
	compare := args[0] == "compare"
	var cmpFlags *flag.FlagSet
	var opts cliOptions
	if compare {
		cmpFlags = flag.NewFlagSet("compare", flag.ContinueOnError)
		cmpFlags.SetOutput(stderr)
		cmpFlags.StringVar(&opts.targets, "targets", "", "targets as name=URL,name=URL (the first is the baseline)")
		cmpFlags.StringVar(&opts.pids, "pids", "", "broker pids for memory sampling as name=PID,name=PID")
		cmpFlags.StringVar(&opts.metrics, "metrics-urls", "", "broker metrics URLs for Go heap sampling as name=URL,name=URL")
		cmpFlags.StringVar(&opts.kicks, "kick-urls", "", "storm: kick endpoints as name=URL,name=URL; targets not listed get no second wave")
		cmpFlags.DurationVar(&opts.pause, "pause", 2*time.Second, "pause between targets")
		if err := cmpFlags.Parse(args[1:]); err != nil {
			return 2
		}
		args = cmpFlags.Args()
		if len(args) == 0 || opts.targets == "" {
			fmt.Fprintln(stderr, "compare needs -targets and a scenario")
			return 2
		}
	}
	scen := Scenario(args[0])
	spec := DefaultSpec(scen)
	known := false
	for _, k := range Scenarios {
		known = known || k == scen
	}
	if !known {
		fmt.Fprintf(stderr, "unknown scenario %q\n\n%s", scen, usage)
		return 2
	}
	fs, urls, after := specFlags(&spec, &opts, stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	after()
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		return 2
	}
	if scen == ScenarioConn && spec.ConnectRate == 0 {
		spec.ConnectRate = spec.Rate
		spec.Rate = 0
	}
	if opts.pin != "" {
		if err := Pin(opts.pin); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var specs []Spec
	if compare {
		targets, err := parsePairs(opts.targets)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		pids, err := parsePairs(opts.pids)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		metrics, err := parsePairs(opts.metrics)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		kicks, err := parsePairs(opts.kicks)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		for _, t := range targets {
			s := spec
			s.Name, s.URLs = t[0], strings.Split(t[1], "+")
			for _, p := range pids {
				if p[0] == t[0] {
					s.PID, _ = strconv.Atoi(p[1])
				}
			}
			for _, m := range metrics {
				if m[0] == t[0] {
					s.Metrics = m[1]
				}
			}
			if opts.kicks != "" {
				s.KickURL = ""
				for _, k := range kicks {
					if k[0] == t[0] {
						s.KickURL = k[1]
					}
				}
			}
			specs = append(specs, s)
		}
	} else {
		spec.URLs = *urls
		specs = []Spec{spec}
	}

	var results []*Result
	for i, s := range specs {
		if i > 0 && opts.pause > 0 {
			time.Sleep(opts.pause)
		}
		if !s.Quiet {
			fmt.Fprintf(stderr, "== %s: %s against %s\n", s.Scenario, describe(&s), strings.Join(s.URLs, " "))
		}
		r, err := Run(ctx, s, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", s.Name, err)
			if errors.Is(err, context.Canceled) || len(specs) == 1 {
				return 1
			}
			continue
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		return 1
	}
	var err error
	if opts.json {
		err = WriteJSON(stdout, results)
	} else {
		err = WriteTable(stdout, results)
	}
	if err == nil && opts.html != "" {
		err = writeHTMLFile(opts.html, []RunGroup{{
			Title:   fmt.Sprintf("%s: %s", scen, describe(&specs[0])),
			Command: "mqbench " + strings.Join(os.Args[1:], " "),
			Results: results,
		}})
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func writeHTMLFile(path string, groups []RunGroup) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteHTML(f, groups); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// specFlags binds the flags of a scenario to spec; after must be called once they are parsed.
func specFlags(s *Spec, o *cliOptions, stderr io.Writer) (fs *flag.FlagSet, urls *stringList, after func()) {
	fs = flag.NewFlagSet(string(s.Scenario), flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls = &stringList{}
	fs.Var(urls, "url", "broker URL, tcp://host:port or ws://host:port/path (repeatable: clients are spread over them)")
	fs.StringVar(&s.Name, "name", "", "target name in reports (default: the URL)")
	v := fs.Int("v", int(s.Version), "MQTT protocol level: 3 (3.1), 4 (3.1.1) or 5")
	n := 0
	switch s.Scenario {
	case ScenarioConn, ScenarioStorm:
		n = s.Clients
	case ScenarioRetained:
		n = s.Retained
	}
	fs.IntVar(&n, "n", n, "conn, storm: connections; retained: retained messages")
	fs.IntVar(&s.Publishers, "pubs", s.Publishers, "publishers (p2p: pairs)")
	fs.IntVar(&s.Subscribers, "subs", s.Subscribers, "subscribers")
	qos := fs.Int("qos", int(s.QoS), "QoS of publishes and subscriptions")
	fs.IntVar(&s.PayloadSize, "size", s.PayloadSize, fmt.Sprintf("payload bytes (at least %d)", PayloadHeader))
	fs.Float64Var(&s.Rate, "rate", s.Rate, "messages per second per publisher, 0 = as fast as possible (conn: connections per second)")
	fs.IntVar(&s.Count, "count", s.Count, "messages per publisher (0: publish for -duration)")
	fs.DurationVar(&s.Duration, "duration", s.Duration, "publish time (conn: hold time; sub: listen time)")
	fs.DurationVar(&s.Drain, "drain", s.Drain, "longest wait for messages in flight after publishing")
	fs.Float64Var(&s.ConnectRate, "connect-rate", s.ConnectRate, "connections per second while connecting, 0 = unpaced")
	fs.DurationVar(&s.ConnectTimeout, "connect-timeout", s.ConnectTimeout, "CONNECT to CONNACK limit per client")
	ka := fs.Int("keepalive", int(s.KeepAlive), "keep alive in seconds")
	fs.IntVar(&s.Inflight, "inflight", s.Inflight, "unacknowledged QoS 1/2 messages per publisher")
	fs.StringVar(&s.Topic, "topic", s.Topic, "topic template: %r run id, %i publisher index")
	fs.StringVar(&s.RunID, "run-id", "", "run id in topics and payload tags (default random; set the same on pub and sub)")
	fs.StringVar(&s.Group, "group", s.Group, "shared: $share group name")
	fs.StringVar(&s.ClientID, "client-id", s.ClientID, "client id prefix")
	fs.IntVar(&s.PubOffset, "pub-offset", 0, "added to publisher numbers (keep several pub processes apart)")
	fs.IntVar(&s.Parallel, "parallel", s.Parallel, "connection handshakes in flight per worker process")
	fs.StringVar(&s.KickURL, "kick-url", s.KickURL, "storm: POST here after -duration to disconnect every client (e.g. http://127.0.0.1:8080/admin/disconnect?all=1); empty: no second wave")
	fs.Float64Var(&s.Stuck, "stuck", s.Stuck, "stuck: fraction of subscribers that stop reading")
	fs.IntVar(&s.Topics, "topics", s.Topics, "stuck: topics the subscribers are spread over (0: one each, 1: all on one)")
	fs.IntVar(&s.StuckRcvBuf, "stuck-rcvbuf", s.StuckRcvBuf, "stuck: SO_RCVBUF of a stuck subscriber's socket (0: the kernel's default)")
	fs.IntVar(&s.Workers, "workers", 0, "worker processes (0: in process, automatic above 18000 connections)")
	fs.StringVar(&s.SourceIP, "source-ip", s.SourceIP, "first source address for workers (worker w uses the w-th after it)")
	fs.IntVar(&s.PID, "pid", 0, "broker pid: sample its RSS for memory per connection")
	fs.StringVar(&s.Metrics, "metrics", "", "broker metrics URL: sample its Go heap for heap per connection")
	fs.BoolVar(&s.Quiet, "q", false, "quiet: no progress line")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per run instead of the table")
	fs.StringVar(&o.html, "html", "", "write a self-contained HTML report to this file")
	fs.StringVar(&o.pin, "pin", "", "pin the harness to these CPUs (taskset syntax, e.g. 1 or 2-3)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mqbench %s [flags]\n", s.Scenario)
		fs.PrintDefaults()
	}
	// Flags of other types than the spec's fields are copied in after parsing.
	after = func() {
		s.Version, s.QoS, s.KeepAlive = byte(*v), byte(*qos), uint16(*ka)
		switch s.Scenario {
		case ScenarioConn, ScenarioStorm:
			s.Clients = n
		case ScenarioRetained:
			s.Retained = n
		}
	}
	return fs, urls, after
}

// parsePairs parses "a=x,b=y".
func parsePairs(s string) ([][2]string, error) {
	if s == "" {
		return nil, nil
	}
	var out [][2]string
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q: want name=value", kv)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// describe summarises a spec's shape in a few words, for titles.
func describe(s *Spec) string {
	var b strings.Builder
	switch s.Scenario {
	case ScenarioConn:
		fmt.Fprintf(&b, "%d connections", s.Clients)
		if s.ConnectRate > 0 {
			fmt.Fprintf(&b, " at %g/s", s.ConnectRate)
		}
		fmt.Fprintf(&b, ", held %v", s.Duration)
		return b.String()
	case ScenarioRetained:
		return fmt.Sprintf("%d retained messages of %d B, QoS %d", s.Retained, s.PayloadSize, s.QoS)
	case ScenarioStorm:
		// The kick URL is left out: it differs per target in one comparison (and some have none).
		return fmt.Sprintf("%d connections, %d handshakes in flight per worker, MQTT level %d, kick after %v",
			s.Clients, s.Parallel, s.Version, s.Duration)
	case ScenarioStuck:
		fmt.Fprintf(&b, "%d publishers → %d subscribers on %d topics, %g stuck", s.Publishers, s.Subscribers, s.topicCount(), s.Stuck)
	case ScenarioSub:
		fmt.Fprintf(&b, "%d subscribers", s.Subscribers)
	case ScenarioPub:
		fmt.Fprintf(&b, "%d publishers", s.Publishers)
	case ScenarioP2P:
		fmt.Fprintf(&b, "%d pairs", s.Publishers)
	default:
		fmt.Fprintf(&b, "%d→%d", s.Publishers, s.Subscribers)
	}
	fmt.Fprintf(&b, ", QoS %d, %d B, MQTT level %d", s.QoS, s.PayloadSize, s.Version)
	if s.Rate > 0 {
		fmt.Fprintf(&b, ", %g msg/s each", s.Rate)
	}
	if s.Count > 0 {
		fmt.Fprintf(&b, ", %d msgs each", s.Count)
	} else {
		fmt.Fprintf(&b, ", %v", s.Duration)
	}
	return b.String()
}

// reportMain renders results saved with -json: a table per group, or Markdown, and optionally HTML.
func reportMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	md := fs.Bool("md", false, "print Markdown tables")
	html := fs.String("html", "", "write a self-contained HTML report to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var rs []*Result
	for _, path := range fs.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		dec := json.NewDecoder(f)
		for {
			var r Result
			if err := dec.Decode(&r); err == io.EOF {
				break
			} else if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", path, err)
				f.Close()
				return 1
			}
			rs = append(rs, &r)
		}
		f.Close()
	}
	if len(rs) == 0 {
		fmt.Fprintln(stderr, "report: no results (give files written with -json)")
		return 2
	}
	groups := Groups(rs)
	for _, g := range groups {
		fmt.Fprintf(stdout, "\n%s\n\n", g.Title)
		var err error
		if *md {
			err = WriteMarkdown(stdout, g.Results)
		} else {
			err = WriteTable(stdout, g.Results)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if *html != "" {
		if err := writeHTMLFile(*html, groups); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	return 0
}
