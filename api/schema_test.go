package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/ariapp/ariapp/api"
)

// schema checks real answers against api.OpenAPI and records which
// documented answers (method, path template, status) were seen.
type schema struct {
	model *v3.Document
	v     validator.Validator
	sv    schema_validation.SchemaValidator

	mu   sync.Mutex
	seen map[string]bool
}

var (
	schemaOnce sync.Once
	theSchema  *schema
	schemaErr  error
)

// openAPI returns the shared checker of api.OpenAPI; the document itself
// must be a valid OpenAPI 3.1 document.
func openAPI(t testing.TB) *schema {
	t.Helper()
	schemaOnce.Do(func() {
		doc, err := libopenapi.NewDocument(api.OpenAPI)
		if err != nil {
			schemaErr = fmt.Errorf("parse: %w", err)
			return
		}
		m, err := doc.BuildV3Model()
		if err != nil {
			schemaErr = fmt.Errorf("model: %w", err)
			return
		}
		v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
		if len(errs) > 0 {
			schemaErr = fmt.Errorf("validator: %v", errs)
			return
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			var msgs []string
			for _, e := range verrs {
				msgs = append(msgs, e.Error())
			}
			schemaErr = fmt.Errorf("not a valid OpenAPI document: %s", strings.Join(msgs, "; "))
			return
		}
		theSchema = &schema{model: &m.Model, v: v, sv: schema_validation.NewSchemaValidator(), seen: map[string]bool{}}
	})
	if schemaErr != nil {
		t.Fatalf("api/openapi.json: %v", schemaErr)
	}
	return theSchema
}

// check validates resp, the answer to req, and records it as seen. The
// body is read and put back, so callers can still decode it.
func (s *schema) check(t testing.TB, req *http.Request, resp *http.Response) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", req.Method, req.URL, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	item, perrs, tmpl := paths.FindPath(req, s.model, config.NewValidationOptions())
	if item == nil || len(perrs) > 0 {
		t.Errorf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, perrs)
		return
	}
	if ok, errs := s.v.ValidateHttpResponse(req, resp); !ok {
		for _, e := range errs {
			t.Errorf("%s %s -> %d does not match the OpenAPI document: %s (%s) body %.300s", req.Method, req.URL.Path, resp.StatusCode, e.Message, e.Reason, body)
			for _, f := range e.SchemaValidationErrors {
				t.Errorf("  %s: %s", f.FieldPath, f.Reason)
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.seen[fmt.Sprintf("%s %s %d", req.Method, tmpl, resp.StatusCode)] = true
	s.mu.Unlock()
}

// checkRecorder validates an in-process answer.
func (s *schema) checkRecorder(t testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	s.check(t, req, rec.Result())
}

// component validates a JSON value against a schema of
// components/schemas (for the data of event-stream frames).
func (s *schema) component(t testing.TB, name string, data []byte) {
	t.Helper()
	sp, ok := s.model.Components.Schemas.Get(name)
	if !ok {
		t.Fatalf("no components/schemas/%s", name)
	}
	var sc *base.Schema = sp.Schema()
	if ok, errs := s.sv.ValidateSchemaBytes(sc, data); !ok {
		for _, e := range errs {
			t.Errorf("%s %.300s does not match the OpenAPI document: %s (%s)", name, data, e.Message, e.Reason)
			for _, f := range e.SchemaValidationErrors {
				t.Errorf("  %s: %s", f.FieldPath, f.Reason)
			}
		}
	}
}

// documented lists every answer the document describes, "METHOD PATH
// STATUS".
func (s *schema) documented() []string {
	var out []string
	for p, item := range s.model.Paths.PathItems.FromOldest() {
		for m, op := range item.GetOperations().FromOldest() {
			for code := range op.Responses.Codes.FromOldest() {
				out = append(out, fmt.Sprintf("%s %s %s", strings.ToUpper(m), p, code))
			}
		}
	}
	sort.Strings(out)
	return out
}

// missing lists the documented answers not seen yet.
func (s *schema) missing() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, d := range s.documented() {
		if !s.seen[d] {
			out = append(out, d)
		}
	}
	return out
}
