package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/zap"
)

// pprofServer serves Go's runtime profiles (debug.pprof_listen) on a
// listener of their own, so a profile never depends on the control API's
// token or load, and the API never carries them.
type pprofServer struct {
	srv  *http.Server
	addr string // where it listens
	done chan struct{}
}

// startPprof listens on addr and serves /debug/pprof/ until stop.
func startPprof(addr string, log *zap.Logger) (*pprofServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	p := &pprofServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("the profiling listener stopped", zap.Error(err))
		}
	}()
	log.Info("serving Go's runtime profiles", zap.String("pprof_listen", ln.Addr().String()))
	return p, nil
}

// stop closes the listener and any profile being taken.
func (p *pprofServer) stop() {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		_ = p.srv.Close()
	}
	<-p.done
}
