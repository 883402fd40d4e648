package proxyproto_test

import (
	"fmt"
	"net/netip"

	pp "loopmq/server/proxyproto"
)

// A listener reads the header as bytes arrive, refuses it from untrusted peers, and hands the
// bytes after it to MQTT.
func Example() {
	trusted, err := pp.ParseTrusted("10.0.0.0/8,127.0.0.1")
	if err != nil {
		panic(err)
	}
	peer := netip.MustParseAddr("10.0.0.5") // the load balancer, as the socket sees it
	stream := []byte("PROXY TCP4 203.0.113.7 10.0.0.1 51234 1883\r\n\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")

	var buf []byte
	for _, read := range [][]byte{stream[:9], stream[9:30], stream[30:]} { // three reads
		buf = append(buf, read...)
		if isProxy, decided := pp.Detect(buf); !decided {
			continue
		} else if !isProxy {
			fmt.Println("no header: plain MQTT")
			return
		}
		if !pp.Trusted(peer, trusted) {
			fmt.Println("header from an untrusted peer: close")
			return
		}
		h, n, need, err := pp.Parse(buf)
		switch {
		case err != nil:
			fmt.Println("malformed header, close:", err)
			return
		case need > 0:
			fmt.Printf("have %d bytes, need at least %d more\n", len(buf), need)
			continue
		}
		client := peer
		if h.Proxied() {
			client = h.Src.Addr()
		}
		fmt.Printf("v%d %s client %s, %d bytes of header, MQTT starts with %#x\n", h.Version, h.Family, client, n, buf[n])
	}
	// Output:
	// have 9 bytes, need at least 6 more
	// have 30 bytes, need at least 1 more
	// v1 TCP4 client 203.0.113.7, 44 bytes of header, MQTT starts with 0x10
}
