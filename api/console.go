package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// consoleFiles is the operator console: plain HTML, CSS and JavaScript,
// embedded so that it works on a PBX network without any outside request.
//
//go:embed console
var consoleFiles embed.FS

// consoleCSP allows the page nothing but its own origin: no CDN, no inline
// script, no frame around it.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// handleConsole registers the console: the page at / and its files under
// /console/. They are open like /healthz: the page holds no data, and
// asks for the token before it reads /v1.
func (s *Server) handleConsole(mux *http.ServeMux) {
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	mux.Handle("GET /{$}", consoleHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, sub, "index.html")
	})))
	mux.Handle("GET /console/{file}", consoleHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		// Only the page's own files: no listing, the page itself only at /.
		if st, err := fs.Stat(sub, name); err != nil || st.IsDir() || name == "index.html" {
			writeError(w, http.StatusNotFound, CodeNotFound, "no such resource: "+r.URL.Path)
			return
		}
		http.ServeFileFS(w, r, sub, name)
	})))
}

func consoleHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", consoleCSP)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		// A new ariapp brings its console along: no stale script.
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
