package server

import (
	"net"

	"loopmq/codec"
)

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
// not block: look credentials up in memory. An Authenticator that may block (a network backend, bcrypt) also
// implements BlockingAuthenticator; it then runs on a bounded worker pool and the CONNECT resumes on the loop.
type Authenticator interface {
	Authenticate(info *ConnectInfo) AuthResult
}

// BlockingAuthenticator marks an Authenticator whose Authenticate may block. Workers is the size of the pool that
// runs it; when all workers are busy and the queue (as long again) is full, new clients are refused with "server
// busy" (0x89, v3 0x03) instead of waiting.
type BlockingAuthenticator interface {
	Authenticator
	Workers() int
}

// authJob is one CONNECT waiting for a blocking Authenticator, with its own copy of the credentials.
type authJob struct {
	cl   *client
	info ConnectInfo
}

// startAuthPool starts the workers of a blocking Authenticator.
func (s *Server) startAuthPool(ba BlockingAuthenticator) {
	n := max(ba.Workers(), 1)
	s.authPool = make(chan authJob, n)
	for i := 0; i < n; i++ {
		go func() {
			for job := range s.authPool {
				r := ba.Authenticate(&job.info)
				cl := job.cl
				cl.l.postTask(func() {
					if cl.state == stAuthenticating {
						cl.state = stAwaitConnect
						cl.afterAuth(r)
						if cl.state == stConnected {
							cl.resumeInput()
						}
					}
				})
			}
		}()
	}
}

// authenticateAsync hands the CONNECT to the worker pool; the client reads nothing more until it returns.
func (cl *client) authenticateAsync(info *ConnectInfo) {
	job := authJob{cl: cl, info: *info}
	job.info.ClientID = append([]byte(nil), info.ClientID...)
	job.info.Username = append([]byte(nil), info.Username...)
	job.info.Password = append([]byte(nil), info.Password...)
	select {
	case cl.l.s.authPool <- job:
		cl.state = stAuthenticating
	default:
		cl.refuse(codec.ServerBusy, "authentication backlog full")
	}
}

// AllowAll is the default Authenticator: every client may connect.
type AllowAll struct{}

// Authenticate accepts every client.
func (AllowAll) Authenticate(*ConnectInfo) AuthResult { return AuthAccepted }

// AuthFunc adapts a function to the Authenticator interface.
type AuthFunc func(info *ConnectInfo) AuthResult

// Authenticate calls f.
func (f AuthFunc) Authenticate(info *ConnectInfo) AuthResult { return f(info) }
