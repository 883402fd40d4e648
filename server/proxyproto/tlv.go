package proxyproto

import "iter"

// TLVType is the type byte of a v2 TLV (§2.2).
type TLVType uint8

// The registered TLV types and SSL subtypes (§2.2).
const (
	TypeALPN      TLVType = 0x01
	TypeAuthority TLVType = 0x02
	TypeCRC32C    TLVType = 0x03
	TypeNoop      TLVType = 0x04
	TypeUniqueID  TLVType = 0x05
	TypeSSL       TLVType = 0x20
	TypeNetNS     TLVType = 0x30

	SubtypeSSLVersion    TLVType = 0x21
	SubtypeSSLCN         TLVType = 0x22
	SubtypeSSLCipher     TLVType = 0x23
	SubtypeSSLSigAlg     TLVType = 0x24
	SubtypeSSLKeyAlg     TLVType = 0x25
	SubtypeSSLGroup      TLVType = 0x26
	SubtypeSSLSigScheme  TLVType = 0x27
	SubtypeSSLClientCert TLVType = 0x28

	// TypeMinCustom to TypeMaxCustom are reserved for applications (§2.2.8); cloud load
	// balancers use them (AWS 0xEA: VPC endpoint id, Azure 0xEE: private link id).
	TypeMinCustom TLVType = 0xE0
	TypeMaxCustom TLVType = 0xEF
)

// TLVs is a block of TLVs as it is on the wire: a type byte, a 2-byte big-endian length, the value.
// The blocks in a Header returned by Parse have been validated.
type TLVs []byte

// All yields the type and value of each TLV in order, the value being a view into t. It stops
// early at a TLV that runs past the end of t, which cannot happen in a validated block.
func (t TLVs) All() iter.Seq2[TLVType, []byte] {
	return func(yield func(TLVType, []byte) bool) {
		for off := 0; off < len(t); {
			typ, val, next, ok := nextTLV(t, off)
			if !ok || !yield(typ, val) {
				return
			}
			off = next
		}
	}
}

// Lookup returns the value of the first TLV of type typ.
func (t TLVs) Lookup(typ TLVType) (val []byte, ok bool) {
	for off := 0; off < len(t); {
		ty, v, next, ok := nextTLV(t, off)
		if !ok {
			break
		}
		if ty == typ {
			return v, true
		}
		off = next
	}
	return nil, false
}

// The bits of SSL.Client (§2.2.6).
const (
	ClientSSL      = 0x01 // the client connected over TLS
	ClientCertConn = 0x02 // the client sent a certificate on this connection
	ClientCertSess = 0x04 // the client sent a certificate at least once in this TLS session
)

// SSL is the decoded PP2_TYPE_SSL TLV (§2.2.6): what the proxy learned from the client's TLS
// connection. Its byte slices are views into the parsed header (see Header).
type SSL struct {
	Present bool   // the header carried a PP2_TYPE_SSL TLV
	Client  uint8  // ClientSSL | ClientCertConn | ClientCertSess
	Verify  uint32 // 0 when the client's certificate was presented and verified

	Version    []byte // PP2_SUBTYPE_SSL_VERSION: "TLSv1.3"
	CN         []byte // PP2_SUBTYPE_SSL_CN: the client certificate's subject Common Name
	Cipher     []byte // PP2_SUBTYPE_SSL_CIPHER: "ECDHE-RSA-AES128-GCM-SHA256"
	SigAlg     []byte // PP2_SUBTYPE_SSL_SIG_ALG: "RSA-SHA256"
	KeyAlg     []byte // PP2_SUBTYPE_SSL_KEY_ALG: "RSA2048"
	Group      []byte // PP2_SUBTYPE_SSL_GROUP: "secp256r1"
	SigScheme  []byte // PP2_SUBTYPE_SSL_SIG_SCHEME: "rsa_pss_rsae_sha256"
	ClientCert []byte // PP2_SUBTYPE_SSL_CLIENT_CERT: the client certificate, DER

	// Sub is the whole sub-TLV block, including subtypes not decoded above.
	Sub TLVs
}

// VerifiedClientCert reports whether the client presented a certificate on this connection and
// the proxy verified it.
func (s *SSL) VerifiedClientCert() bool {
	return s.Present && s.Client&ClientCertConn != 0 && s.Verify == 0
}
