// Command loopmq is the loopmq MQTT broker daemon: a thin main over package server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"loopmq/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loopmq:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	opts, err := parseOptions(args)
	if err != nil {
		return err
	}
	s, err := server.New(opts)
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}

// parseOptions builds the broker options: defaults, then the -config file, then the flags given on the command
// line (so a flag always wins over the file).
func parseOptions(args []string) (server.Options, error) {
	opts := server.DefaultOptions()
	fs := flag.NewFlagSet("loopmq", flag.ContinueOnError)
	config := fs.String("config", "", "YAML configuration `file` (keys as in README; flags override it)")
	tcp := fs.String("tcp", opts.TCPAddr, "MQTT over TCP listen `address` (empty disables)")
	ws := fs.String("ws", opts.WSAddr, "MQTT over WebSocket listen `address` (empty disables)")
	wsPath := fs.String("ws-path", opts.WSPath, "WebSocket upgrade `path`")
	httpAddr := fs.String("http", opts.HTTPAddr, "metrics, pprof and health `address` (empty disables)")
	level := fs.String("log-level", opts.LogLevel, "log `level`: debug, info, warn, error")
	format := fs.String("log-format", opts.LogFormat, "log `format`: text or json")
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if fs.NArg() > 0 {
		return opts, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *config != "" {
		if err := opts.LoadOptionsFile(*config); err != nil {
			return opts, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "tcp":
			opts.TCPAddr = *tcp
		case "ws":
			opts.WSAddr = *ws
		case "ws-path":
			opts.WSPath = *wsPath
		case "http":
			opts.HTTPAddr = *httpAddr
		case "log-level":
			opts.LogLevel = *level
		case "log-format":
			opts.LogFormat = *format
		}
	})
	return opts, opts.Validate()
}
