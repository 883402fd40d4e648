package server

import (
	"context"
	"net"
	"net/http"

	"loopmq/server/admin"
	"loopmq/server/stats"
)

// startHTTP serves the operator's endpoints (server/admin) on HTTPAddr.
func (s *Server) startHTTP() error {
	ln, err := net.Listen("tcp", s.opts.HTTPAddr)
	if err != nil {
		return err
	}
	s.httpLn = ln
	s.httpSrv = &http.Server{Handler: admin.NewHandler(adminBroker{s}, stats.NewRegistry(s.readStats))}
	go s.httpSrv.Serve(ln)
	return nil
}

// adminBroker is the server as the admin endpoints see it.
type adminBroker struct{ s *Server }

func (b adminBroker) Ready() bool        { return b.s.ready.Load() }
func (b adminBroker) ShuttingDown() bool { return b.s.stopping.Load() }
func (b adminBroker) Disconnect(ctx context.Context, id string) admin.Result {
	return b.s.disconnectClient(ctx, id)
}
func (b adminBroker) DisconnectAll(ctx context.Context) admin.Result { return b.s.disconnectAll(ctx) }
