package server

import "net"

// ConnectInfo is what an Authenticator sees of a CONNECT. Its byte slices are views into the packet and are valid
// only during the call; copy what you keep.
type ConnectInfo struct {
	ClientID     []byte
	Username     []byte
	Password     []byte
	UsernameFlag bool
	PasswordFlag bool
	// ProtocolLevel is 3 (MQTT 3.1), 4 (3.1.1) or 5.
	ProtocolLevel byte
	RemoteAddr    net.Addr
}

// AuthResult is an Authenticator's verdict, as an MQTT 5 CONNACK reason code: 0 accepts; 0x86 (bad user name or
// password), 0x87 (not authorized), 0x8A (banned) and any other refusal code reject the connection. v3 clients get
// the matching 3.1.1 return code (0x04 for 0x86, 0x05 otherwise).
type AuthResult byte

// Accepted and the refusals an Authenticator most often returns.
const (
	AuthAccepted          AuthResult = 0x00
	AuthBadCredentials    AuthResult = 0x86
	AuthNotAuthorized     AuthResult = 0x87
	AuthBanned            AuthResult = 0x8A
	AuthServerUnavailable AuthResult = 0x88
)

// Authenticator decides whether a client may connect. Authenticate runs on the connection's event loop, so it must
// not block: look credentials up in memory. (A blocking backend belongs on a worker pool; that hook is a later
// issue.)
type Authenticator interface {
	Authenticate(info *ConnectInfo) AuthResult
}

// AllowAll is the default Authenticator: every client may connect.
type AllowAll struct{}

// Authenticate accepts every client.
func (AllowAll) Authenticate(*ConnectInfo) AuthResult { return AuthAccepted }

// AuthFunc adapts a function to the Authenticator interface.
type AuthFunc func(info *ConnectInfo) AuthResult

// Authenticate calls f.
func (f AuthFunc) Authenticate(info *ConnectInfo) AuthResult { return f(info) }
