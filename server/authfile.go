package server

import (
	"fmt"
	"runtime"
	"sync/atomic"

	"loopmq/server/auth"
)

// authRules is one generation of the password and ACL files. It is immutable: a reload builds a new one and
// swaps the pointer, so a check in progress finishes on the rules it started with.
type authRules struct {
	pw  *auth.Passwords // nil without password_file
	acl *auth.ACL       // nil without acl_file
	gen uint64
}

// loadAuthRules reads the files the options name. Errors name the file and, for a bad line, its number.
func loadAuthRules(o *Options, gen uint64) (*authRules, error) {
	r := &authRules{gen: gen}
	var err error
	if o.PasswordFile != "" {
		if r.pw, err = auth.LoadPasswordFile(o.PasswordFile); err != nil {
			return nil, fmt.Errorf("password_file: %w", err)
		}
	}
	if o.ACLFile != "" {
		if r.acl, err = auth.LoadACLFile(o.ACLFile); err != nil {
			return nil, fmt.Errorf("acl_file: %w", err)
		}
	}
	return r, nil
}

// ReloadAuth re-reads password_file and acl_file (bin/loopmq calls it on SIGHUP). The new rules replace the old
// ones at once; if either file cannot be read, the error is returned (and logged) and the old rules stay. Connected
// clients keep their sessions; their ACL rights are recompiled before their next packet is handled.
func (s *Server) ReloadAuth() error {
	if s.opts.PasswordFile == "" && s.opts.ACLFile == "" {
		return nil
	}
	old := s.rules.Load()
	r, err := loadAuthRules(&s.opts, old.gen+1)
	if err != nil {
		s.log.Error("auth reload failed, keeping the previous rules", "err", err)
		return err
	}
	s.rules.Store(r)
	users := 0
	if r.pw != nil {
		users = r.pw.Len()
	}
	s.log.Info("auth files reloaded", "password_file", s.opts.PasswordFile, "users", users,
		"acl_file", s.opts.ACLFile, "generation", r.gen)
	return nil
}

// fileAuth checks CONNECTs against password_file. PBKDF2 and Argon2id are slow on purpose, so it is a
// BlockingAuthenticator: it runs on the auth worker pool, never on an event loop.
//
// Like Mosquitto 2.0, it does not tell a wrong password from an unknown user or a refused anonymous client: all
// get "not authorized" (v5 0x87, v3 0x05).
type fileAuth struct {
	rules          *atomic.Pointer[authRules]
	allowAnonymous bool
}

// Authenticate implements Authenticator.
func (a fileAuth) Authenticate(info *ConnectInfo) AuthResult {
	r := a.rules.Load()
	if !info.UsernameFlag {
		if a.allowAnonymous {
			return AuthAccepted
		}
		return AuthNotAuthorized
	}
	if r.pw == nil || !r.pw.Check(string(info.Username), passwordOrNil(info)) {
		return AuthNotAuthorized
	}
	return AuthAccepted
}

// passwordOrNil is the password the client sent, or nil if it sent none (which never matches).
func passwordOrNil(info *ConnectInfo) []byte {
	if !info.PasswordFlag {
		return nil
	}
	if info.Password == nil {
		return []byte{}
	}
	return info.Password
}

// Workers implements BlockingAuthenticator: one hash at a time per core.
func (fileAuth) Workers() int { return max(runtime.GOMAXPROCS(0), 2) }

// clientAuthz is what a client's ACL rights are compiled from, kept to recompile them after a reload.
type clientAuthz struct {
	user      string
	anonymous bool
	gen       uint64 // generation of the rules the rights come from
}

// compileRights builds the client's ACL rights under the current rules (nil without acl_file) and notes their
// generation. It runs on the client's loop.
func (cl *client) compileRights(r *authRules) {
	a := cl.authz
	a.gen = r.gen
	rights := r.acl.For(a.user, a.anonymous, cl.clientID())
	cl.rights = rights
	if s := cl.s; s != nil {
		s.rights.Store(rights)
	}
}

// refreshRights recompiles the client's rights if the rules were reloaded since they were compiled.
func (cl *client) refreshRights() {
	r := cl.l.s.rules.Load()
	if r != nil && cl.authz != nil && r.gen != cl.authz.gen {
		cl.compileRights(r)
	}
}

// clientID is the client identifier ACL patterns see as %c: the assigned one for a client that sent none.
func (cl *client) clientID() string {
	if cl.s != nil {
		return cl.s.id
	}
	if cl.pending != nil {
		return cl.pending.assignedID
	}
	return ""
}

// logAuthMode says once, at start, who may connect and what they may touch.
func (s *Server) logAuthMode() {
	r := s.rules.Load()
	switch {
	case r == nil && s.opts.Authenticator == nil:
		s.log.Warn("no password_file and no acl_file: anyone may connect and publish or subscribe to any topic")
		return
	case r == nil:
		return
	}
	attrs := []any{}
	if r.pw != nil {
		attrs = append(attrs, "password_file", s.opts.PasswordFile, "users", r.pw.Len(), "allow_anonymous", s.opts.AllowAnonymous)
	} else if s.opts.Authenticator == nil {
		attrs = append(attrs, "password_file", "", "note", "anyone may connect")
	}
	if r.acl != nil {
		attrs = append(attrs, "acl_file", s.opts.ACLFile)
	}
	s.log.Info("authentication", attrs...)
}
