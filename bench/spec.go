// Package bench measures MQTT brokers: it opens many connections, publishes and subscribes in a chosen
// pattern (a scenario), accounts for every message (sent, acknowledged, received, lost, duplicated, out
// of order, latency) and reports the figures as a table, JSON or a self-contained HTML page.
//
// The harness targets any broker by URL (tcp://host:port or ws://host:port/path) and speaks MQTT 3.1,
// 3.1.1 or 5.0 through the project's codec. A run can be split over worker processes so it scales past
// one process's open-file limit; workers merge their results, histograms included.
package bench

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Scenario names a traffic pattern.
type Scenario string

// The scenarios. Each is a subcommand of mqbench.
const (
	ScenarioConn     Scenario = "conn"     // open connections at a rate and hold them
	ScenarioPub      Scenario = "pub"      // publishers only (pair with sub for distributed runs)
	ScenarioSub      Scenario = "sub"      // subscribers only
	ScenarioP2P      Scenario = "p2p"      // K publisher→subscriber pairs, one topic each
	ScenarioFanIn    Scenario = "fanin"    // P publishers → 1 subscriber on a wildcard
	ScenarioFanOut   Scenario = "fanout"   // 1 publisher → S subscribers
	ScenarioShared   Scenario = "shared"   // P publishers → S members of one $share group
	ScenarioRetained Scenario = "retained" // publish R retained messages, then time a subscribe to all
	ScenarioStorm    Scenario = "storm"    // N clients connect at once, are kicked by the broker, reconnect at once
	ScenarioStuck    Scenario = "stuck"    // P publishers → S subscribers of which a fraction stops reading
)

// Scenarios lists every scenario in the order the CLI documents them.
var Scenarios = []Scenario{ScenarioConn, ScenarioPub, ScenarioSub, ScenarioP2P, ScenarioFanIn,
	ScenarioFanOut, ScenarioShared, ScenarioRetained, ScenarioStorm, ScenarioStuck}

// Spec describes one run completely. It is what a worker process receives as JSON on its stdin, so
// every field is exported and has a JSON name.
type Spec struct {
	Scenario Scenario `json:"scenario"`
	Name     string   `json:"name,omitempty"` // target name in reports; defaults to the first URL
	// URLs are the broker addresses; clients are spread over them round robin by client index, so a
	// p2p run can, for example, publish over TCP and subscribe over WebSocket.
	URLs    []string `json:"urls"`
	Version byte     `json:"version"` // protocol level: 3 (3.1), 4 (3.1.1) or 5

	Clients     int `json:"clients,omitempty"`     // conn: connections to open
	Publishers  int `json:"publishers,omitempty"`  // pub, p2p (pairs), fanin, shared
	Subscribers int `json:"subscribers,omitempty"` // sub, fanout, shared
	Retained    int `json:"retained,omitempty"`    // retained: messages to store before subscribing

	QoS         byte    `json:"qos"`
	PayloadSize int     `json:"payload_size"`
	Rate        float64 `json:"rate,omitempty"`  // messages per second per publisher; 0 = as fast as possible
	Count       int     `json:"count,omitempty"` // messages per publisher; 0 = publish for Duration
	// Duration is how long publishers publish (or how long conn holds its connections, or how long sub
	// listens).
	Duration time.Duration `json:"duration"`
	// Drain bounds the wait for messages still in flight after the publishers stop.
	Drain time.Duration `json:"drain"`

	ConnectRate    float64       `json:"connect_rate,omitempty"` // connections per second in total; 0 = unpaced
	ConnectTimeout time.Duration `json:"connect_timeout"`
	KeepAlive      uint16        `json:"keep_alive"` // seconds
	Inflight       int           `json:"inflight"`   // unacknowledged QoS 1/2 messages per publisher

	// Topic is the topic template: %r is replaced by RunID and %i by the publisher's index (for
	// subscribers' filters by the index they follow, "+" when they follow all).
	Topic string `json:"topic"`
	RunID string `json:"run_id"`
	// Instance tells this invocation's clients apart from those of other invocations sharing the
	// run id (a distributed pub/sub pair), so their client ids never collide; random when empty.
	Instance string `json:"instance"`
	Group    string `json:"group"`     // shared: the $share group name
	ClientID string `json:"client_id"` // client id prefix; the client index is appended
	// PubOffset is added to publisher indexes written into payloads, so publishers of several pub
	// processes feeding one sub stay distinct.
	PubOffset int `json:"pub_offset,omitempty"`

	// Parallel bounds the connection handshakes in flight per worker process (dial to CONNACK).
	Parallel int `json:"parallel,omitempty"`

	// KickURL (storm) is the broker's disconnect-everyone endpoint, called with POST once the first wave is
	// connected and has been held for Duration; every client then reconnects at once. Empty skips the second
	// wave (brokers without such an endpoint).
	KickURL string `json:"kick_url,omitempty"`

	// Stuck (stuck) is the fraction of subscribers that stop reading their socket once subscribed.
	Stuck float64 `json:"stuck,omitempty"`
	// Topics (stuck) is how many topics the subscribers are spread over, subscriber i on topic i mod Topics;
	// 0 gives every subscriber its own topic, 1 puts all on one topic (every message reaches every subscriber).
	Topics int `json:"topics,omitempty"`
	// StuckRcvBuf (stuck) is the SO_RCVBUF a stuck subscriber sets before connecting, so the broker meets a full
	// socket quickly.
	StuckRcvBuf int `json:"stuck_rcvbuf,omitempty"`

	Workers  int    `json:"workers,omitempty"`   // worker processes; 0 = in process (automatic above FDLimit)
	SourceIP string `json:"source_ip,omitempty"` // first source address; worker w uses the w-th after it
	PID      int    `json:"pid,omitempty"`       // broker pid: sample its RSS (conn)
	Metrics  string `json:"metrics,omitempty"`   // broker's Prometheus URL: sample go_memstats_heap_inuse_bytes

	Quiet bool `json:"-"` // no progress line
}

// FDLimit is how many connections one process opens before a run is split over workers automatically;
// it stays under the 20,000 open files a process may hold here, leaving room for the harness itself.
const FDLimit = 18000

// PayloadHeader is the size of the accounting header every payload starts with, so it is the smallest
// payload size a run accepts.
const PayloadHeader = 24

// DefaultSpec returns a spec with every default filled in for the scenario.
func DefaultSpec(s Scenario) Spec {
	sp := Spec{
		Scenario:       s,
		URLs:           nil,
		Version:        4,
		QoS:            0,
		PayloadSize:    64,
		Duration:       10 * time.Second,
		Drain:          10 * time.Second, // ends early once all arrived or nothing came for 2 s
		ConnectTimeout: 10 * time.Second,
		KeepAlive:      60,
		Inflight:       64,
		Topic:          "mqbench/%r/%i",
		Group:          "mqbench",
		ClientID:       "mqbench-",
		SourceIP:       "127.0.0.2",
		Parallel:       128,
	}
	switch s {
	case ScenarioConn:
		sp.Clients = 1000
		sp.Duration = 5 * time.Second
	case ScenarioPub, ScenarioP2P, ScenarioFanIn:
		sp.Publishers = 10
		sp.Subscribers = 1
	case ScenarioSub:
		sp.Subscribers = 1
	case ScenarioFanOut:
		sp.Publishers = 1
		sp.Subscribers = 100
	case ScenarioShared:
		sp.Publishers = 4
		sp.Subscribers = 4
	case ScenarioRetained:
		sp.Retained = 10000
		sp.QoS = 1
	case ScenarioStorm:
		sp.Clients = 19000
		sp.Duration = 2 * time.Second // hold before the kick
		sp.Parallel = 1000
	case ScenarioStuck:
		sp.Publishers = 10
		sp.Subscribers = 10000
		sp.Stuck = 0.1
		sp.StuckRcvBuf = 4096
		sp.Duration = 30 * time.Second
	}
	return sp
}

// Validate checks the spec and fills in what follows from it (the run id, the target name).
func (s *Spec) Validate() error {
	known := false
	for _, k := range Scenarios {
		known = known || k == s.Scenario
	}
	if !known {
		return fmt.Errorf("unknown scenario %q", s.Scenario)
	}
	if len(s.URLs) == 0 {
		return errors.New("no broker URL (-url tcp://host:port or ws://host:port/path)")
	}
	for _, u := range s.URLs {
		if _, err := ParseTarget(u); err != nil {
			return err
		}
	}
	if s.Version < 3 || s.Version > 5 {
		return fmt.Errorf("protocol level %d: want 3, 4 or 5", s.Version)
	}
	if s.QoS > 2 {
		return fmt.Errorf("qos %d: want 0, 1 or 2", s.QoS)
	}
	if s.PayloadSize < PayloadHeader {
		return fmt.Errorf("payload size %d: at least %d bytes carry the publisher, sequence number and timestamp",
			s.PayloadSize, PayloadHeader)
	}
	if s.Count < 0 || s.Rate < 0 || s.ConnectRate < 0 || s.Duration < 0 || s.Drain < 0 {
		return errors.New("counts, rates and durations must not be negative")
	}
	if s.Inflight < 1 || s.Inflight > 65535 {
		return fmt.Errorf("inflight %d: want 1..65535", s.Inflight)
	}
	if s.ConnectTimeout <= 0 {
		return errors.New("connect timeout must be positive")
	}
	need := map[Scenario][2]int{ // minimum publishers, subscribers
		ScenarioPub: {1, 0}, ScenarioSub: {0, 1}, ScenarioP2P: {1, 0}, ScenarioFanIn: {1, 0},
		ScenarioFanOut: {0, 1}, ScenarioShared: {1, 1}, ScenarioStuck: {1, 1},
	}[s.Scenario]
	if s.Publishers < need[0] || s.Subscribers < need[1] {
		return fmt.Errorf("%s needs at least %d publishers and %d subscribers", s.Scenario, need[0], need[1])
	}
	if (s.Scenario == ScenarioConn || s.Scenario == ScenarioStorm) && s.Clients < 1 {
		return fmt.Errorf("%s needs at least one client (-n)", s.Scenario)
	}
	if s.Parallel < 1 {
		return fmt.Errorf("parallel %d: want at least 1 handshake in flight", s.Parallel)
	}
	if s.Scenario == ScenarioStorm && s.KickURL != "" {
		if u, err := url.Parse(s.KickURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("kick URL %q: want http://host:port/path", s.KickURL)
		}
	}
	if s.Scenario == ScenarioStuck {
		if s.Stuck < 0 || s.Stuck >= 1 {
			return fmt.Errorf("stuck fraction %g: want 0 <= f < 1 (some subscribers must stay healthy)", s.Stuck)
		}
		if s.Topics < 0 || s.Topics > s.Subscribers {
			return fmt.Errorf("topics %d: want 0..%d (0: one per subscriber)", s.Topics, s.Subscribers)
		}
		if s.StuckRcvBuf < 0 {
			return errors.New("stuck receive buffer must not be negative")
		}
		for _, u := range s.URLs {
			if t, _ := ParseTarget(u); t.Scheme != "tcp" {
				return fmt.Errorf("stuck needs tcp:// targets (a stuck subscriber sets its socket's receive buffer), not %s", u)
			}
		}
	}
	if s.Scenario == ScenarioRetained && s.Retained < 1 {
		return errors.New("retained needs at least one message (-n)")
	}
	if !strings.Contains(s.Topic, "%i") && s.Scenario != ScenarioFanOut {
		return fmt.Errorf("topic template %q has no %%i for the publisher index", s.Topic)
	}
	if s.Count == 0 && s.Duration == 0 && s.Scenario != ScenarioRetained && s.Scenario != ScenarioStorm {
		return errors.New("give -count or -duration")
	}
	if s.RunID == "" {
		s.RunID = newRunID()
	}
	if s.Instance == "" {
		s.Instance = newRunID()
	}
	if s.Name == "" {
		s.Name = s.URLs[0]
	}
	return nil
}

// topicCount is how many topics the stuck scenario's subscribers are spread over.
func (s *Spec) topicCount() int {
	if s.Topics == 0 {
		return s.Subscribers
	}
	return s.Topics
}

// streamFor says whether publisher p publishes to topic t in the stuck scenario, and the stream number its
// payloads carry there. Every topic has at least one publisher and every publisher at least one topic: with
// more topics than publishers, publisher p takes the topics t ≡ p (mod P); with fewer, topic t is published by
// the publishers p ≡ t (mod T). Each (publisher, topic) pair numbers its messages on its own, so a subscriber's
// loss is exact however the topics are shared.
func (s *Spec) streamFor(p, t int) (stream int, ok bool) {
	T := s.topicCount()
	if t%s.Publishers != p%T {
		return 0, false
	}
	return p*T + t, true
}

// TopicFor expands the topic template for index i; i < 0 yields the single-level wildcard "+".
func (s *Spec) TopicFor(i int) string {
	idx := "+"
	if i >= 0 {
		idx = strconv.Itoa(i)
	}
	return strings.NewReplacer("%r", s.RunID, "%i", idx).Replace(s.Topic)
}

// Target is a parsed broker URL.
type Target struct {
	Scheme string // "tcp" or "ws"
	Host   string // host:port
	Path   string // WebSocket path, "/mqtt" when the URL has none
	Raw    string
}

// ParseTarget parses tcp://host:port, mqtt://host:port (same as tcp) or ws://host:port/path.
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("broker URL %q: %w", raw, err)
	}
	t := Target{Scheme: u.Scheme, Host: u.Host, Path: u.Path, Raw: raw}
	switch u.Scheme {
	case "tcp", "mqtt":
		t.Scheme = "tcp"
		if u.Port() == "" {
			t.Host = u.Hostname() + ":1883"
		}
	case "ws":
		if u.Port() == "" {
			t.Host = u.Hostname() + ":80"
		}
		if t.Path == "" {
			t.Path = "/mqtt"
		}
	default:
		return Target{}, fmt.Errorf("broker URL %q: scheme must be tcp or ws (TLS is not supported)", raw)
	}
	if u.Hostname() == "" {
		return Target{}, fmt.Errorf("broker URL %q: no host", raw)
	}
	return t, nil
}
