package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Shared subscriptions with real clients: every member of the group gets a share of the messages, and each
// message reaches exactly one member [MQTT-4.8.2].

// shareMember is one shared-subscription member as the tests see it: the payloads it received.
type shareMember struct {
	name     string
	payloads func() []string
}

func v5payloads(c *v5client) func() []string {
	return func() []string {
		c.mu.Lock()
		defer c.mu.Unlock()
		var s []string
		for _, p := range c.got {
			s = append(s, string(p.Payload))
		}
		return s
	}
}

func v3payloads(c *v3client) func() []string {
	return func() []string {
		c.mu.Lock()
		defer c.mu.Unlock()
		var s []string
		for _, m := range c.got {
			s = append(s, string(m.Payload()))
		}
		return s
	}
}

// checkShares waits until the members together hold n messages, then requires each of msg0..msg(n-1) exactly once
// across the group and every member to hold more than n/(2·members): round robin gives each n/members.
func checkShares(t *testing.T, n int, members []shareMember) {
	t.Helper()
	total := func() (int, []int) {
		sum, per := 0, make([]int, len(members))
		for i, m := range members {
			per[i] = len(m.payloads())
			sum += per[i]
		}
		return sum, per
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		sum, per := total()
		if sum >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group received %d of %d messages (per member %v)", sum, n, per)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // room for a late duplicate to show
	seen := map[string]string{}
	for _, m := range members {
		for _, p := range m.payloads() {
			if other, dup := seen[p]; dup {
				t.Fatalf("%q reached %s and %s: a shared message goes to one member", p, other, m.name)
			}
			seen[p] = m.name
		}
	}
	for i := 0; i < n; i++ {
		if _, ok := seen[fmt.Sprintf("msg%d", i)]; !ok {
			t.Fatalf("msg%d reached no member", i)
		}
	}
	if len(seen) != n {
		t.Fatalf("group received %d distinct messages, want %d", len(seen), n)
	}
	_, per := total()
	for i, m := range members {
		if per[i] <= n/(2*len(members)) {
			t.Fatalf("member %s got %d of %d messages (per member %v): every member must get a share", m.name, per[i], n, per)
		}
	}
}

func TestPaho5SharedSubscriptionEveryMemberShares(t *testing.T) {
	s := startBroker(t, nil)
	var members []shareMember
	for _, id := range []string{"sh-a", "sh-b", "sh-c"} {
		c := dialV5Patient(t, s, &paho.Connect{ClientID: id, CleanStart: true})
		if _, err := c.Subscribe(ctxPatient(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$share/g/work/+", QoS: 1}}}); err != nil {
			t.Fatal(err)
		}
		members = append(members, shareMember{id, v5payloads(c)})
	}
	pub := dialV5Patient(t, s, &paho.Connect{ClientID: "sh-pub", CleanStart: true})
	const n = 60
	for i := 0; i < n; i++ {
		if _, err := pub.Publish(ctxPatient(t), &paho.Publish{Topic: "work/x", QoS: 1, Payload: fmt.Appendf(nil, "msg%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	checkShares(t, n, members)
}

// TestPahoSharedSubscriptionMixedQoS2: members on both paho libraries (MQTT 5 and 3.1.1), QoS 2.
func TestPahoSharedSubscriptionMixedQoS2(t *testing.T) {
	s := startBroker(t, nil)
	var members []shareMember
	for _, id := range []string{"shm-5a", "shm-5b"} {
		c := dialV5Patient(t, s, &paho.Connect{ClientID: id, CleanStart: true})
		if _, err := c.Subscribe(ctxPatient(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$share/mixed/jobs/#", QoS: 2}}}); err != nil {
			t.Fatal(err)
		}
		members = append(members, shareMember{id, v5payloads(c)})
	}
	c3 := dialV3Patient(t, s, "shm-3", true)
	waitTok(t, c3.Subscribe("$share/mixed/jobs/#", 2, nil))
	members = append(members, shareMember{"shm-3", v3payloads(c3)})
	pub := dialV3Patient(t, s, "shm-pub", true)
	const n = 45
	for i := 0; i < n; i++ {
		waitTok(t, pub.Publish("jobs/a/b", 2, false, fmt.Sprintf("msg%d", i)))
	}
	checkShares(t, n, members)
}
