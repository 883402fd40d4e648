package server

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// requireClientTool fails the test when a client tool that .ci/run installs is missing (skips only under -short).
func requireClientTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if testing.Short() {
			t.Skipf("%s not installed (package %s)", name, pkg)
		}
		t.Fatalf("%s not installed: install %s (.ci/run does)", name, pkg)
	}
}

// TestMosquittoRetainFlag asserts the RETAIN flag as Debian's mosquitto_sub prints it (-F %r): set on retained
// messages sent because of a new subscription [MQTT-3.3.1-8], clear on messages delivered live to an existing
// subscription, even when published with RETAIN [MQTT-3.3.1-9, MQTT-3.3.1-12].
func TestMosquittoRetainFlag(t *testing.T) {
	requireClientTool(t, "mosquitto_sub", "mosquitto-clients")
	requireClientTool(t, "mosquitto_pub", "mosquitto-clients")
	s := startBroker(t, nil)
	host, port, _ := strings.Cut(s.TCPAddr(), ":")
	for _, v := range []string{"mqttv311", "mqttv5", "mqttv31"} {
		t.Run(v, func(t *testing.T) {
			base := "rf/" + v + "/"
			pub := func(topic, payload string, retain bool) {
				t.Helper()
				args := []string{"-h", host, "-p", port, "-V", v, "-q", "1", "-t", base + topic, "-m", payload}
				if retain {
					args = append(args, "-r")
				}
				if b, err := exec.Command("mosquitto_pub", args...).CombinedOutput(); err != nil {
					t.Fatalf("mosquitto_pub: %v %s", err, b)
				}
			}
			// sub starts mosquitto_sub printing "retain qos topic payload" per message.
			sub := func(count string) (<-chan string, func() error) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				cmd := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-V", v, "-q", "1",
					"-t", base+"#", "-C", count, "-W", "25", "-F", "%r %q %t %p")
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				lines := make(chan string, 16)
				go func() {
					defer close(lines)
					sc := bufio.NewScanner(out)
					for sc.Scan() {
						lines <- sc.Text()
					}
				}()
				t.Cleanup(func() { cancel(); cmd.Wait() })
				return lines, func() error {
					err := cmd.Wait()
					if err != nil {
						t.Logf("mosquitto_sub stderr: %s", stderr.String())
					}
					return err
				}
			}
			expect := func(lines <-chan string, want string) {
				t.Helper()
				select {
				case got, ok := <-lines:
					if !ok {
						t.Fatalf("mosquitto_sub ended; want %q", want)
					}
					if got != want {
						t.Fatalf("mosquitto_sub printed %q, want %q (retain flag, QoS, topic, payload)", got, want)
					}
				case <-time.After(25 * time.Second):
					t.Fatalf("mosquitto_sub printed nothing; want %q", want)
				}
			}

			pub("old", "stored", true)
			lines, done := sub("3")
			// The retained message arrives on subscribing, flag set; it also shows the subscription is in place.
			expect(lines, "1 1 "+base+"old stored")
			pub("new", "live", false)
			expect(lines, "0 1 "+base+"new live")
			pub("new2", "live-retained", true)
			expect(lines, "0 1 "+base+"new2 live-retained")
			if err := done(); err != nil {
				t.Fatalf("mosquitto_sub: %v", err)
			}

			// A new subscriber gets both retained messages, flag set.
			lines, done = sub("2")
			got := map[string]bool{}
			for range 2 {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatal("mosquitto_sub ended early")
					}
					got[l] = true
				case <-time.After(25 * time.Second):
					t.Fatal("retained messages not delivered to a new subscription")
				}
			}
			for _, want := range []string{"1 1 " + base + "old stored", "1 1 " + base + "new2 live-retained"} {
				if !got[want] {
					t.Fatalf("new subscription printed %v, want %q among them", got, want)
				}
			}
			if err := done(); err != nil {
				t.Fatalf("mosquitto_sub: %v", err)
			}
		})
	}
}
