package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"loopmq/server/admin"
)

// adminPost calls the admin endpoint and returns the status and body.
func adminPost(t *testing.T, s *Server, method, query string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.HTTPAddr()+"/admin/disconnect"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, query, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminDisconnect(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		query      string
		wantStatus int
		wantCount  int64 // for 200 answers
		// what each client sees: v5 gets DISCONNECT 0x98 then close, v3 a bare close, others stay connected
		kickedV5, kickedV3, kickedOther bool
	}{
		{name: "one v5 client", method: "POST", query: "?client=v5", wantStatus: 200, wantCount: 1, kickedV5: true},
		{name: "one v3 client", method: "POST", query: "?client=v3", wantStatus: 200, wantCount: 1, kickedV3: true},
		{name: "all", method: "POST", query: "?all=1", wantStatus: 200, wantCount: 3,
			kickedV5: true, kickedV3: true, kickedOther: true},
		{name: "unknown client", method: "POST", query: "?client=nobody", wantStatus: 404},
		{name: "GET refused", method: "GET", query: "?all=1", wantStatus: 405},
		{name: "neither client nor all", method: "POST", query: "", wantStatus: 400},
		{name: "both client and all", method: "POST", query: "?client=v5&all=1", wantStatus: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startBroker(t, func(o *Options) { o.HTTPAddr = "127.0.0.1:0" })
			v5 := connected5(t, s, "v5")
			v3 := connected311(t, s, "v3")
			other := connected311(t, s, "other")

			status, body := adminPost(t, s, tc.method, tc.query)
			if status != tc.wantStatus {
				t.Fatalf("status %d (%q), want %d", status, body, tc.wantStatus)
			}
			if status == 200 {
				var res admin.Result
				if err := json.Unmarshal([]byte(body), &res); err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				if res.Disconnected != tc.wantCount || !res.Complete {
					t.Fatalf("answer %+v, want %d disconnected, complete", res, tc.wantCount)
				}
			}
			if tc.kickedV5 {
				// DISCONNECT, reason 0x98 Administrative action; the empty property length may be left out (§3.14.2.2).
				v5.expectClosed([]byte{0xe0, 0x01, 0x98})
			} else {
				v5.send([]byte{0xc0, 0})
				v5.expect([]byte{0xd0, 0})
			}
			for _, c := range []struct {
				conn   *rawConn
				kicked bool
			}{{v3, tc.kickedV3}, {other, tc.kickedOther}} {
				if c.kicked {
					c.conn.expectClosed()
				} else {
					c.conn.send([]byte{0xc0, 0})
					c.conn.expect([]byte{0xd0, 0})
				}
			}
		})
	}
}

// TestAdminDisconnectPublishesWill: the operator's kick is not a client DISCONNECT, so the will goes out, and a
// kicked client may connect again at once.
func TestAdminDisconnectPublishesWill(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.HTTPAddr = "127.0.0.1:0" })
	watcher := connected311(t, s, "watcher")
	watcher.send([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'w', 0x00})
	watcher.expect([]byte{0x90, 0x03, 0x00, 0x01, 0x00})
	dev := dialRaw(t, s)
	dev.send(connect311Will("dev", true, 7))
	dev.expect([]byte{0x20, 2, 0, 0})

	if status, body := adminPost(t, s, "POST", "?client=dev"); status != 200 {
		t.Fatalf("status %d %q", status, body)
	}
	dev.expectClosed()
	watcher.expect([]byte{0x30, 0x04, 0x00, 0x01, 'w', 7})

	again := dialRaw(t, s)
	again.send(connect311("dev", true))
	again.expect([]byte{0x20, 2, 0, 0})
}

// TestAdminDisconnectAllMany kicks clients spread over several loops, more per loop than one kick task closes, and
// checks every one is closed and counted once.
func TestAdminDisconnectAllMany(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.HTTPAddr = "127.0.0.1:0"; o.EventLoops = 4 })
	const n = 4*kickChunk + 100 // four loops, so at least one gets more than a chunk
	conns := make([]*rawConn, 0, n)
	for i := 0; i < n; i++ {
		conns = append(conns, connected311(t, s, "c"+strconv.Itoa(i)))
	}
	status, body := adminPost(t, s, "POST", "?all=1")
	if want := fmt.Sprintf(`"disconnected":%d`, n); status != 200 || !strings.Contains(body, want) {
		t.Fatalf("status %d %q, want 200 with %s", status, body, want)
	}
	for _, c := range conns {
		c.expectClosed()
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.connected.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.connected.Load(); got != 0 {
		t.Fatalf("%d clients still connected", got)
	}
}
