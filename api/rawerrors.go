package api

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
)

// net/http answers a request it cannot parse (a header block too large, a
// malformed request line, an HTTP version it does not speak) itself,
// before any handler runs, with a plain-text reply written to the
// connection in one piece:
//
//	HTTP/1.1 431 Request Header Fields Too Large<plainErrorHeaders>431 Request Header Fields Too Large
//
// jsonErrorConn recognises exactly that reply and writes the API's JSON
// error body instead, so every error a client of the API sees has one
// shape.
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// jsonErrorListener wraps accepted connections in jsonErrorConn.
type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

// jsonErrorConn rewrites net/http's own plain-text error replies.
type jsonErrorConn struct{ net.Conn }

func (c *jsonErrorConn) Write(p []byte) (int, error) {
	if rewritten, ok := jsonForPlainError(p); ok {
		if _, err := c.Conn.Write(rewritten); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// jsonForPlainError returns the JSON form of one of net/http's canned
// error replies, or false if p is not one.
func jsonForPlainError(p []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if !bytes.HasPrefix(p, []byte(proto)) {
		return nil, false
	}
	head, body, found := bytes.Cut(p, []byte(plainErrorHeaders))
	status := string(head[len(proto):])
	// The body repeats the status line (and its detail, if any).
	if !found || string(body) != status || len(status) < 4 || status[3] != ' ' {
		return nil, false
	}
	code, err := strconv.Atoi(status[:3])
	if err != nil || code < 400 {
		return nil, false
	}
	ecode := CodeBadRequest
	switch code {
	case http.StatusRequestHeaderFieldsTooLarge:
		ecode = CodeHeadersTooLarge
	case http.StatusHTTPVersionNotSupported:
		ecode = CodeHTTPVersion
	}
	msg, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: ecode, Message: status}})
	var out bytes.Buffer
	out.WriteString(proto + status[:3] + " " + http.StatusText(code))
	out.WriteString("\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ")
	out.WriteString(strconv.Itoa(len(msg) + 1))
	out.WriteString("\r\n\r\n")
	out.Write(msg)
	out.WriteByte('\n')
	return out.Bytes(), true
}
