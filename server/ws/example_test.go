package ws_test

import (
	"fmt"
	"net/netip"

	gobwas "github.com/gobwas/ws"

	"loopmq/server/ws"
)

// Example shows the calls a broker makes from its event loop for one WebSocket connection: Upgrade on the first
// bytes, then Deframe on whatever arrives, answering control frames, and one binary frame per flush.
func Example() {
	// What a browser sent in its first packet: the upgrade request and, pipelined, a masked ping and a binary
	// frame carrying an MQTT PINGREQ (0xC0 0x00).
	inbound := []byte("GET /mqtt HTTP/1.1\r\nHost: localhost:8083\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n" +
		"\x89\x82\x01\x02\x03\x04\x69\x6b" + // ping "hi" masked with 01 02 03 04
		"\x82\x82\x00\x00\x00\x00\xc0\x00") // binary frame, zero mask, C0 00

	cfg := ws.Config{}
	res, need, err := ws.Upgrade(&cfg, inbound, netip.MustParseAddrPort("127.0.0.1:50000"), nil)
	if need > 0 || err != nil {
		return // wait for more bytes, or write res.Response and close
	}
	fmt.Printf("%q\n", res.Response[:34])
	fmt.Println("subprotocol:", res.Subprotocol)
	inbound = inbound[res.Consumed:] // gnet: conn.Discard(res.Consumed)

	var d ws.Deframer
	var out []byte
	for len(inbound) > 0 {
		n, consumed, ctl, err := d.Deframe(inbound)
		if err != nil {
			out = ws.AppendClose(out, err.(*ws.ProtocolError).Code, "")
			break
		}
		if n > 0 {
			fmt.Printf("MQTT bytes: % x\n", inbound[:n]) // to the codec
		}
		if ctl.Op != 0 {
			fmt.Printf("control: %v %q\n", ctl.Op == gobwas.OpPing, ctl.Payload)
			out = ctl.AppendReply(out)
		}
		if consumed == 0 {
			break // an incomplete header: wait for more bytes
		}
		inbound = inbound[consumed:]
	}
	// The broker answers PINGREQ with PINGRESP inside one binary frame: header from a fixed array, then the data.
	var h [ws.MaxFrameHeaderLen]byte
	k := ws.PutFrameHeader(&h, gobwas.OpBinary, 2)
	out = append(append(out, h[:k]...), 0xd0, 0x00)
	fmt.Printf("to the socket: % x\n", out)
	// Output:
	// "HTTP/1.1 101 Switching Protocols\r\n"
	// subprotocol: mqtt
	// control: true "hi"
	// MQTT bytes: c0 00
	// to the socket: 8a 02 68 69 82 02 d0 00
}
