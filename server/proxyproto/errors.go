package proxyproto

// Error is a violation of the PROXY protocol specification (haproxy's doc/proxy-protocol.txt) found
// while parsing a header. Rule names the section of that text whose rule was broken ("§2.2.3"); Msg
// says what was wrong.
//
// Every error Parse returns is one of the package-level *Error values below, so returning one never
// allocates and callers may compare with == or errors.Is. The spec's answer to all of them is the
// same: abort the connection (§2.1: "Any sequence which does not exactly match the protocol must be
// discarded and cause the receiver to abort the connection").
type Error struct {
	Rule string
	Msg  string
}

// Error formats the error as "proxyproto: what was wrong [rule]".
func (e *Error) Error() string {
	return "proxyproto: " + e.Msg + " [" + e.Rule + "]"
}

// ErrNotProxy is returned when the bytes start with neither "PROXY " nor the v2 signature.
var ErrNotProxy = &Error{"§2.2", "neither the v1 \"PROXY \" prefix nor the v2 signature"}

// Version 1 (text) errors.
var (
	ErrV1TooLong  = &Error{"§2.1", "v1 line without CRLF in the first 107 bytes"}
	ErrV1LineEnd  = &Error{"§2.1", "v1 line with a CR or LF that is not part of the final CRLF"}
	ErrV1Protocol = &Error{"§2.1", "v1 protocol is not TCP4, TCP6 or UNKNOWN"}
	ErrV1Fields   = &Error{"§2.1", "v1 fields are not exactly four, separated by exactly one space"}
	ErrV1Address  = &Error{"§2.1", "v1 address not in the canonical format of its family"}
	ErrV1Port     = &Error{"§2.1", "v1 port not a decimal in [0..65535] without leading zeros"}
)

// Version 2 (binary) errors.
var (
	ErrV2Version     = &Error{"§2.2", "v2 version is not 2"}
	ErrV2Command     = &Error{"§2.2", "v2 command is neither LOCAL nor PROXY"}
	ErrV2Family      = &Error{"§2.2", "v2 address family and transport protocol byte is not one of 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32"}
	ErrV2AddrLen     = &Error{"§2.2", "v2 length too short for the addresses of the family"}
	ErrV2TooLarge    = &Error{"§2.2", "v2 header longer than the configured maximum (Config.MaxV2Len)"}
	ErrV2TLV         = &Error{"§2.2", "v2 TLV runs past the end of the header"}
	ErrV2CRC32CLen   = &Error{"§2.2.3", "v2 CRC32c TLV value is not 4 bytes"}
	ErrV2CRC32CTwice = &Error{"§2.2.3", "v2 header with more than one CRC32c TLV"}
	ErrV2CRC32C      = &Error{"§2.2.3", "v2 CRC32c checksum does not match the header"}
	ErrV2UniqueID    = &Error{"§2.2.5", "v2 unique ID longer than 128 bytes"}
	ErrV2SSL         = &Error{"§2.2.6", "v2 SSL TLV shorter than 5 bytes or with a sub-TLV running past its end"}
)
