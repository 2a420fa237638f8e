package api

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 description of the control API, served at
// GET /v1/openapi.json. Tests validate the server's real answers against
// it, so it describes what the code does.
//
//go:embed openapi.json
var OpenAPI []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(OpenAPI)
}
