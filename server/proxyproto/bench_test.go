package proxyproto_test

import (
	"testing"

	pp "loopmq/server/proxyproto"
)

// benchHeaders are the headers a broker behind a load balancer sees on each new connection.
func benchHeaders() []struct {
	name string
	raw  []byte
} {
	ssl := ssl(0x07, 0, tlv(0x21, s("TLSv1.3")), tlv(0x22, s("device-17")), tlv(0x23, s("TLS_AES_128_GCM_SHA256")))
	return []struct {
		name string
		raw  []byte
	}{
		{"v1-tcp4", cat(s("PROXY TCP4 192.168.0.1 192.168.0.11 56324 1883\r\n"), mqttConnect)},
		{"v1-tcp6", cat(s("PROXY TCP6 2001:db8:85a3::8a2e:370:7334 2001:db8::1 56324 1883\r\n"), mqttConnect)},
		{"v1-tcp6-longest", s("PROXY TCP6 " + ffff6 + " " + ffff6 + " 65535 65535\r\n")},
		{"v1-unknown", s("PROXY UNKNOWN\r\n")},
		{"v2-tcp4", cat(v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883)), mqttConnect)},
		{"v2-tcp6", cat(v2(0x21, 0x21, ip6("2001:db8::10", "2001:db8::1", 51234, 1883)), mqttConnect)},
		{"v2-local", v2(0x20, 0x00)},
		{"v2-tcp4-aws-tlvs", v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883),
			tlv(0xEA, s("\x01vpce-0123456789abcdef0")), tlv(0x04, make([]byte, 5)))},
		{"v2-tcp6-ssl-alpn-authority", v2(0x21, 0x21, ip6("2001:db8::10", "2001:db8::1", 51234, 8883),
			tlv(0x01, s("mqtt")), tlv(0x02, s("broker.example.com")), ssl)},
		{"v2-tcp4-crc32c", withCRC(v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x05, s("conn-0123456789"))))},
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range benchHeaders() {
		b.Run(c.name, func(b *testing.B) {
			if _, _, _, err := pp.Parse(c.raw); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				h, n, _, _ := pp.Parse(c.raw)
				sinkN += n + int(h.Src.Port())
			}
		})
	}
}

func BenchmarkDetect(b *testing.B) {
	for _, c := range []struct {
		name string
		raw  []byte
	}{{"mqtt", mqttConnect}, {"v1", s("PROXY TCP4 ")}, {"v2", s(sig + "\x21")}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ok, _ := pp.Detect(c.raw)
				if ok {
					sinkN++
				}
			}
		})
	}
}

func BenchmarkTrusted(b *testing.B) {
	list, err := pp.ParseTrusted("10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fd00::/8")
	if err != nil {
		b.Fatal(err)
	}
	addr := addrPort("[::ffff:192.168.7.7]:1").Addr()
	b.ReportAllocs()
	for b.Loop() {
		if pp.Trusted(addr, list) {
			sinkN++
		}
	}
}

var sinkN int

// TestParseDoesNotAllocate guards the zero-allocation contract outside benchmarks.
func TestParseDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts in -short mode are not needed")
	}
	for _, c := range benchHeaders() {
		allocs := testing.AllocsPerRun(100, func() {
			h, n, _, _ := pp.Parse(c.raw)
			sinkN += n + int(h.Src.Port())
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Parse, want 0", c.name, allocs)
		}
	}
}
