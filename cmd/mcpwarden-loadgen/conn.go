package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// rawConn is one worker's keep-alive HTTP/1.1 connection, through fasthttp: a request is a write
// and the reads its answer needs, on the worker's own goroutine, with the request and answer
// buffers reused. net/http's client hands every request to two goroutines of the connection and
// back, which at the fleet mode's rates was most of the generator's CPU besides the system calls:
// against one server with 20,000 seeded agents, `mcpwarden-loadgen --mode fleet --keys KEYS
// --interval 10s --warmup 10s --duration 30s` (about 2,200 requests/s) took 0.34 cores with
// net/http's client and 0.21 to 0.28 with a hand-written connection, under other load; fasthttp
// replaced that one at the same cost (alternating runs at 2,022 requests/s: 0.30 and 0.30 cores
// with it, 0.31 and 0.33 with fasthttp) without a parser of our own.
type rawConn struct {
	client  *fasthttp.HostClient
	req     *fasthttp.Request
	resp    *fasthttp.Response
	timeout time.Duration
}

// rawTarget is what a rawConn needs of the --url: the address to dial, the Host header, and the
// path the API's paths follow.
func rawTarget(raw string) (addr, host, basePath string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", err
	}
	if u.Scheme != "http" {
		return "", "", "", fmt.Errorf("the direct HTTP client speaks plain HTTP; %s is not http://", raw)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return addr, u.Host, strings.TrimSuffix(u.Path, "/"), nil
}

// newRawConn returns a connection to addr, sending host as the Host header. It dials when it
// first sends, and again after an error or a server's close.
func newRawConn(addr, host string, timeout time.Duration) *rawConn {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetHost(host)
	req.Header.SetContentType("application/json")
	return &rawConn{
		client: &fasthttp.HostClient{
			Addr: addr, MaxConns: 1, ReadTimeout: timeout, WriteTimeout: timeout,
			MaxResponseBodySize: 1 << 20, NoDefaultUserAgentHeader: true,
		},
		req: req, resp: fasthttp.AcquireResponse(), timeout: timeout,
	}
}

// post sends body to path with the API key and returns the status and the answer's body, valid
// until the next call.
func (c *rawConn) post(path, key string, body []byte) (int, []byte, error) {
	c.req.SetRequestURI(path)
	c.req.Header.Set("X-API-Key", key)
	c.req.SetBodyRaw(body)
	if err := c.client.DoTimeout(c.req, c.resp, c.timeout); err != nil {
		return 0, nil, err
	}
	return c.resp.StatusCode(), c.resp.Body(), nil
}

// close closes the connection.
func (c *rawConn) close() { c.client.CloseIdleConnections() }
