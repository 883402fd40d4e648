package ws

import "github.com/gobwas/ws"

// ProtocolError is a violation of RFC 6455 (or of the MQTT binding of WebSocket) by the client. Code is the close
// status the server sends in its close frame before closing the connection [RFC 6455 §7.4.1]; Rule names the rule
// that was broken. The errors are package variables, so returning one allocates nothing; compare with errors.Is or
// ==.
type ProtocolError struct {
	Code ws.StatusCode
	Rule string
}

// Error returns the rule that was broken.
func (e *ProtocolError) Error() string { return "websocket: " + e.Rule }

// The errors Deframe returns; each carries the close code to send.
var (
	ErrUnmaskedFrame = &ProtocolError{ws.StatusProtocolError,
		"client frame not masked [RFC 6455 §5.1]"}
	ErrReservedBits = &ProtocolError{ws.StatusProtocolError,
		"reserved bits set without a negotiated extension [RFC 6455 §5.2]"}
	ErrReservedOpcode = &ProtocolError{ws.StatusProtocolError,
		"reserved opcode [RFC 6455 §5.2]"}
	ErrControlTooLong = &ProtocolError{ws.StatusProtocolError,
		"control frame payload over 125 bytes [RFC 6455 §5.5]"}
	ErrControlFragmented = &ProtocolError{ws.StatusProtocolError,
		"fragmented control frame [RFC 6455 §5.5]"}
	ErrUnexpectedContinuation = &ProtocolError{ws.StatusProtocolError,
		"continuation frame without a fragmented message to continue [RFC 6455 §5.4]"}
	ErrInterleavedMessage = &ProtocolError{ws.StatusProtocolError,
		"new data frame before the fragmented message ended [RFC 6455 §5.4]"}
	ErrNonMinimalLength = &ProtocolError{ws.StatusProtocolError,
		"payload length not in its minimal encoding [RFC 6455 §5.2]"}
	ErrLengthMSB = &ProtocolError{ws.StatusProtocolError,
		"64-bit payload length with the most significant bit set [RFC 6455 §5.2]"}
	ErrTextFrame = &ProtocolError{ws.StatusUnsupportedData,
		"text frame: MQTT over WebSocket uses binary frames only [MQTT-6.0.0-1]"}
	ErrMessageTooBig = &ProtocolError{ws.StatusMessageTooBig,
		"frame or message longer than the maximum payload [RFC 6455 §10.4]"}
	ErrCloseBodyTooShort = &ProtocolError{ws.StatusProtocolError,
		"close frame with a one-byte body [RFC 6455 §5.5.1]"}
	ErrInvalidCloseCode = &ProtocolError{ws.StatusProtocolError,
		"close frame with a status code not allowed on the wire [RFC 6455 §7.4]"}
	ErrCloseReasonUTF8 = &ProtocolError{ws.StatusInvalidFramePayloadData,
		"close reason is not valid UTF-8 [RFC 6455 §5.5.1]"}
)
