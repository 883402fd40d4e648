package bench

// roleKind says what a client does in a run.
type roleKind byte

const (
	rolePub   roleKind = iota + 1 // publishes on Topic
	roleSub                       // subscribes to Topic (a filter)
	roleIdle                      // connects and holds (conn)
	roleStuck                     // subscribes to Topic, then never reads again (stuck)
)

// role is one client of a run. The topology is a pure function of the spec, so every worker process
// computes the same roles and takes the ones assigned to it.
type role struct {
	kind   roleKind
	index  int    // global client index: client id suffix, URL and source address choice
	pub    int    // publishers: the publisher number written into payloads (before PubOffset)
	topic  string // publishers: topic name; subscribers: filter
	group  int    // subscribers: accounting group (one per subscriber, one for a whole $share group)
	expect []int  // subscribers: publisher numbers the group must hear from; nil when unknown (sub)
	worker int    // which worker process runs the client
}

// topology returns the clients of a run, subscribers first (they must be subscribed before anyone
// publishes), each assigned to one of n workers. Pairs that account together (a p2p pair, a $share
// group) stay in one worker so that a worker's result is complete for the groups it owns.
func topology(s *Spec, n int) []role {
	if n < 1 {
		n = 1
	}
	var roles []role
	add := func(r role) {
		r.index = len(roles)
		roles = append(roles, r)
	}
	switch s.Scenario {
	case ScenarioConn, ScenarioStorm:
		for i := 0; i < s.Clients; i++ {
			add(role{kind: roleIdle, worker: i % n})
		}
	case ScenarioPub:
		for p := 0; p < s.Publishers; p++ {
			add(role{kind: rolePub, pub: p, topic: s.TopicFor(p), worker: p % n})
		}
	case ScenarioSub:
		for i := 0; i < s.Subscribers; i++ {
			add(role{kind: roleSub, topic: s.TopicFor(-1), group: i, worker: i % n})
		}
	case ScenarioP2P:
		for k := 0; k < s.Publishers; k++ {
			add(role{kind: roleSub, topic: s.TopicFor(k), group: k, expect: []int{k}, worker: k % n})
		}
		for k := 0; k < s.Publishers; k++ {
			add(role{kind: rolePub, pub: k, topic: s.TopicFor(k), worker: k % n})
		}
	case ScenarioFanIn:
		all := make([]int, s.Publishers)
		for p := range all {
			all[p] = p
		}
		add(role{kind: roleSub, topic: s.TopicFor(-1), group: 0, expect: all, worker: 0})
		for p := 0; p < s.Publishers; p++ {
			add(role{kind: rolePub, pub: p, topic: s.TopicFor(p), worker: p % n})
		}
	case ScenarioFanOut:
		one := []int{0}
		for i := 0; i < s.Subscribers; i++ {
			add(role{kind: roleSub, topic: s.TopicFor(0), group: i, expect: one, worker: i % n})
		}
		add(role{kind: rolePub, pub: 0, topic: s.TopicFor(0), worker: 0})
	case ScenarioShared:
		all := make([]int, s.Publishers)
		for p := range all {
			all[p] = p
		}
		filter := "$share/" + s.Group + "/" + s.TopicFor(-1)
		for i := 0; i < s.Subscribers; i++ {
			// One group: a message must reach exactly one member, so members share one tracker and
			// stay in worker 0 where that tracker lives.
			add(role{kind: roleSub, topic: filter, group: 0, expect: all, worker: 0})
		}
		for p := 0; p < s.Publishers; p++ {
			add(role{kind: rolePub, pub: p, topic: s.TopicFor(p), worker: p % n})
		}
	case ScenarioStuck:
		T := s.topicCount()
		expect := make([][]int, T) // the streams of each topic
		for p := 0; p < s.Publishers; p++ {
			for t := 0; t < T; t++ {
				if st, ok := s.streamFor(p, t); ok {
					expect[t] = append(expect[t], st)
				}
			}
		}
		for i := 0; i < s.Subscribers; i++ {
			r := role{kind: roleSub, topic: s.TopicFor(i % T), group: i, expect: expect[i%T], worker: i % n}
			if isStuck(i, s.Stuck) {
				r.kind, r.expect = roleStuck, nil
			}
			add(r)
		}
		for p := 0; p < s.Publishers; p++ {
			add(role{kind: rolePub, pub: p, worker: p % n})
		}
	case ScenarioRetained:
		add(role{kind: rolePub, pub: 0, topic: s.TopicFor(0), worker: 0})
		add(role{kind: roleSub, topic: s.TopicFor(-1), group: 0, worker: 0})
	}
	return roles
}

// clientCount is how many connections a run opens.
func clientCount(s *Spec) int { return len(topology(s, 1)) }
