package proxyproto

import (
	"encoding/binary"
	"hash/crc32"
	"net/netip"
)

// parseV2 parses a v2 header (§2.2). b is not empty and starts with '\r'. Every check is made as
// soon as the byte it reads is in, so a bad header is refused before the rest arrives.
func (c *Config) parseV2(h *Header, b []byte) (n int, need int, err error) {
	if !hasPrefixOf(b, v2Signature) {
		return 0, 0, ErrNotProxy
	}
	if len(b) > 12 {
		if b[12]>>4 != 2 {
			return 0, 0, ErrV2Version
		}
		h.Command = Command(b[12] & 0xF)
		if h.Command != Local && h.Command != Proxy {
			return 0, 0, ErrV2Command
		}
	}
	if len(b) > 13 {
		h.Family = Family(b[13])
		if h.Family.addrLen() < 0 {
			return 0, 0, ErrV2Family
		}
	}
	if len(b) < V2HeaderLen {
		return 0, V2HeaderLen - len(b), nil
	}
	h.Version = 2
	size := int(binary.BigEndian.Uint16(b[14:16]))
	total := V2HeaderLen + size
	if total > c.maxV2Len() {
		return 0, 0, ErrV2TooLarge
	}
	alen := h.Family.addrLen()
	if size < alen {
		if h.Command == Proxy {
			return 0, 0, ErrV2AddrLen
		}
		// A LOCAL header's family "is ignored" and receivers "must not assume zero is
		// presented for LOCAL connections": skip a block that does not fit the family.
		if len(b) < total {
			return 0, total - len(b), nil
		}
		h.Family = Unknown
		return total, 0, nil
	}
	if len(b) < total {
		return 0, total - len(b), nil
	}
	hdr := b[:total:total]
	addr := hdr[V2HeaderLen : V2HeaderLen+alen]
	switch h.Family {
	case TCP4, UDP4:
		h.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[0:4])), binary.BigEndian.Uint16(addr[8:10]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[4:8])), binary.BigEndian.Uint16(addr[10:12]))
	case TCP6, UDP6:
		h.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr[0:16])), binary.BigEndian.Uint16(addr[32:34]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr[16:32])), binary.BigEndian.Uint16(addr[34:36]))
	case UnixStream, UnixDgram:
		h.SrcUnix = trimNUL(addr[:108])
		h.DstUnix = trimNUL(addr[108:])
	}
	h.TLVs = TLVs(hdr[V2HeaderLen+alen:])
	if err := c.parseTLVs(h, hdr, V2HeaderLen+alen); err != nil {
		return 0, 0, err
	}
	return total, 0, nil
}

func (c *Config) maxV2Len() int {
	if c.MaxV2Len <= 0 {
		return DefaultMaxV2Len
	}
	return min(c.MaxV2Len, MaxV2Len)
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// castagnoli is the CRC32c table of §2.2.3 (RFC 4960 Appendix B); hash/crc32 uses the CPU's CRC32
// instruction for it where there is one.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// zeroCRC stands for the checksum field while it is computed; a package variable, because a local
// array passed to crc32.Update escapes to the heap.
var zeroCRC [4]byte

// parseTLVs walks the TLVs of hdr from offset off, checks that they fill the header exactly, and
// decodes the ones Header has fields for.
func (c *Config) parseTLVs(h *Header, hdr []byte, off int) error {
	crcAt := -1
	for off < len(hdr) {
		typ, val, next, ok := nextTLV(hdr, off)
		if !ok {
			return ErrV2TLV
		}
		// A type that appears twice is validated twice and decoded once, the first time, as
		// TLVs.Lookup finds it.
		switch typ {
		case TypeALPN:
			h.ALPN = first(h.ALPN, val)
		case TypeAuthority:
			h.Authority = first(h.Authority, val)
		case TypeCRC32C:
			if len(val) != 4 {
				return ErrV2CRC32CLen
			}
			if crcAt >= 0 {
				return ErrV2CRC32CTwice
			}
			crcAt = off + 3
		case TypeUniqueID:
			if len(val) > 128 {
				return ErrV2UniqueID
			}
			h.UniqueID = first(h.UniqueID, val)
		case TypeSSL:
			ssl, ok := parseSSL(val)
			if !ok {
				return ErrV2SSL
			}
			if !h.SSL.Present {
				h.SSL = ssl
			}
		case TypeNetNS:
			h.NetNS = first(h.NetNS, val)
		}
		off = next
	}
	if crcAt >= 0 && !c.IgnoreCRC32C {
		// The checksum is computed with its own field zeroed; hash around it instead of
		// writing into the caller's buffer.
		sum := crc32.Update(0, castagnoli, hdr[:crcAt])
		sum = crc32.Update(sum, castagnoli, zeroCRC[:])
		sum = crc32.Update(sum, castagnoli, hdr[crcAt+4:])
		if sum != binary.BigEndian.Uint32(hdr[crcAt:]) {
			return ErrV2CRC32C
		}
		h.CRC32C = true
	}
	return nil
}

// first keeps a field decoded from an earlier TLV of the same type; values are never nil, even when
// empty, so nil means not seen yet.
func first(field, val []byte) []byte {
	if field != nil {
		return field
	}
	return val
}

// nextTLV reads the TLV at b[off:]: its type, its value and the offset after it. ok is false when
// the TLV runs past the end of b.
func nextTLV(b []byte, off int) (typ TLVType, val []byte, next int, ok bool) {
	if len(b)-off < 3 {
		return 0, nil, 0, false
	}
	l := int(binary.BigEndian.Uint16(b[off+1:]))
	next = off + 3 + l
	if next > len(b) {
		return 0, nil, 0, false
	}
	return TLVType(b[off]), b[off+3 : next : next], next, true
}

// parseSSL decodes the value of a PP2_TYPE_SSL TLV (§2.2.6): client flags, verify result and
// sub-TLVs.
func parseSSL(v []byte) (s SSL, ok bool) {
	if len(v) < 5 {
		return s, false
	}
	s.Present = true
	s.Client = v[0]
	s.Verify = binary.BigEndian.Uint32(v[1:5])
	s.Sub = TLVs(v[5:])
	for off := 5; off < len(v); {
		typ, val, next, ok := nextTLV(v, off)
		if !ok {
			return SSL{}, false
		}
		switch typ {
		case SubtypeSSLVersion:
			s.Version = first(s.Version, val)
		case SubtypeSSLCN:
			s.CN = first(s.CN, val)
		case SubtypeSSLCipher:
			s.Cipher = first(s.Cipher, val)
		case SubtypeSSLSigAlg:
			s.SigAlg = first(s.SigAlg, val)
		case SubtypeSSLKeyAlg:
			s.KeyAlg = first(s.KeyAlg, val)
		case SubtypeSSLGroup:
			s.Group = first(s.Group, val)
		case SubtypeSSLSigScheme:
			s.SigScheme = first(s.SigScheme, val)
		case SubtypeSSLClientCert:
			s.ClientCert = first(s.ClientCert, val)
		}
		off = next
	}
	return s, true
}
