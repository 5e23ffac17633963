package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultServer is the controller's address when none is configured: where
// `sluice server` listens by default.
const DefaultServer = "http://127.0.0.1:8080"

// maxErrorBody caps how much of an error answer is read.
const maxErrorBody = 1 << 20

// Config configures [New]. Every zero field has the default its comment
// gives.
type Config struct {
	// Server is the controller's base URL, http:// or https://;
	// DefaultServer if empty.
	Server string
	// Token is sent as Authorization: Bearer; empty sends none (the
	// app-facing and health routes need none).
	Token string
	// HTTPClient makes the requests; nil is a client without an overall
	// timeout (bound requests with their context).
	HTTPClient *http.Client
	// UserAgent is sent with every request; empty is "sluice-client".
	UserAgent string
}

// Client talks to one controller. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	ua    string
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	server := cfg.Server
	if server == "" {
		server = DefaultServer
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, &ConfigError{Field: "server", Value: server, Allowed: "an http:// or https:// base URL such as " + DefaultServer}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if strings.ContainsAny(cfg.Token, " \t\r\n") {
		return nil, &ConfigError{Field: "token", Value: "(secret)", Allowed: "the secret exactly as `sluice token create` printed it, without white space"}
	}
	c := &Client{base: u, token: cfg.Token, hc: cfg.HTTPClient, ua: cfg.UserAgent}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.ua == "" {
		c.ua = "sluice-client"
	}
	return c, nil
}

// Server is the controller's base URL.
func (c *Client) Server() string { return c.base.String() }

// request is one call: method, path under the base URL, query, body.
type request struct {
	method      string
	path        string
	query       url.Values
	body        io.Reader
	contentType string
	// size is the body's length when known (sent as Content-Length).
	size int64
	// header holds extra headers; its Accept replaces application/json.
	header http.Header
}

// jsonBody encodes v as a request body.
func jsonBody(v any) (io.Reader, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return bytes.NewReader(data), nil
}

// do sends req and decodes a successful JSON answer into out (nil
// discards it).
func (c *Client) do(ctx context.Context, req request, out any) error {
	resp, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ue := c.unavailable(ctx, err); ue != nil {
			return ue
		}
		return fmt.Errorf("client: %s %s: read answer: %w", req.method, req.path, err)
	}
	return nil
}

// send makes the request and returns a successful response, whose body
// the caller closes, or the error the answer or the transport gave.
func (c *Client) send(ctx context.Context, req request) (*http.Response, error) {
	// req.path holds escaped segments (see pathEscape).
	u := *c.base
	unescaped, err := url.PathUnescape(req.path)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", req.method, req.path, err)
	}
	u.Path = c.base.Path + unescaped
	u.RawPath = c.base.EscapedPath() + req.path
	u.RawQuery = req.query.Encode()
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), req.body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", req.method, req.path, err)
	}
	if req.body != nil && req.size > 0 {
		hr.ContentLength = req.size
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	hr.Header.Set("Accept", "application/json")
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	hr.Header.Set("User-Agent", c.ua)
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		if ue := c.unavailable(ctx, err); ue != nil {
			return nil, ue
		}
		return nil, fmt.Errorf("client: %s %s: %w", req.method, req.path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeError(req, resp)
}

// unavailable classifies a transport error: a refused or failed
// connection or a timeout is an *UnavailableError; a cancellation by the
// caller is returned as nil (the caller wraps the error as it is).
func (c *Client) unavailable(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
	var oe *net.OpError
	var dnsErr *net.DNSError
	if timeout || errors.As(err, &oe) || errors.As(err, &dnsErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &UnavailableError{Server: c.base.String(), Timeout: timeout, Err: cause(err)}
	}
	return nil
}

// cause strips url.Error's "Get \"URL\": " prefix, which repeats what
// UnavailableError says.
func cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeError reads the JSON error answer of API.md, or words a status
// whose body is not one.
func decodeError(req request, resp *http.Response) error {
	e := &APIError{Method: req.method, Path: req.path, Status: resp.StatusCode}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/json" && json.Unmarshal(data, &body) == nil && body.Error != "" {
		e.Message, e.Errors = body.Error, body.Errors
		return e
	}
	e.Message = fmt.Sprintf("the controller answered %s %s with %d %s and no error message",
		req.method, req.path, resp.StatusCode, http.StatusText(resp.StatusCode))
	return e
}

// pathEscape escapes one path segment.
func pathEscape(s string) string { return url.PathEscape(s) }
