package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rawConn is one keep-alive HTTP/1.1 connection that sends a POST and reads its answer with no
// more than a write and the reads the answer needs. net/http's client hands every request to
// two goroutines of the connection and back. Measured against one server with 20,000 seeded
// agents, `mcpwarden-loadgen --mode fleet --keys KEYS --interval 10s --warmup 10s --duration 30s`
// (about 2,200 requests/s), alternating runs: 0.34 and 0.34 cores with net/http's client, 0.28
// and 0.21 with this, under other load (load average 8 to 11 on 2 cores).
// It reads what HTTP/1.1 servers send: a status line, headers, and a Content-Length or chunked
// body.
type rawConn struct {
	addr    string // host:port
	host    string // Host header
	timeout time.Duration
	conn    net.Conn
	r       *bufio.Reader
	req     []byte
	body    []byte
}

// rawTarget is what a rawConn needs of the --url: the address to dial, the Host header, and the
// path the API's paths follow.
func rawTarget(raw string) (addr, host, basePath string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", err
	}
	if u.Scheme != "http" {
		return "", "", "", fmt.Errorf("the raw HTTP client speaks plain HTTP; %s is not http://", raw)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return addr, u.Host, strings.TrimSuffix(u.Path, "/"), nil
}

var errNoLength = errors.New("answer with neither Content-Length nor chunks")

// post sends body to path with the API key and returns the status and the answer's body, valid
// until the next call. On any error the connection is closed, and the next call opens another.
func (c *rawConn) post(path, key string, body []byte) (int, []byte, error) {
	code, b, err := c.roundTrip(path, key, body)
	if err != nil && c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	return code, b, err
}

func (c *rawConn) roundTrip(path, key string, body []byte) (int, []byte, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return 0, nil, err
		}
		c.conn = conn
		if c.r == nil {
			c.r = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.r.Reset(conn)
		}
	}
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	b := append(c.req[:0], "POST "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nContent-Type: application/json\r\nX-API-Key: "...)
	b = append(b, key...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.req = b
	if _, err := c.conn.Write(b); err != nil {
		return 0, nil, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return code, nil, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return code, nil, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			closing = true
		}
	}
	switch {
	case chunked:
		if err := c.readChunked(); err != nil {
			return code, nil, err
		}
	case length < 0:
		return code, nil, errNoLength
	default:
		c.body = c.body[:0]
		if err := c.readN(length); err != nil {
			return code, nil, err
		}
	}
	if closing {
		c.conn.Close()
		c.conn = nil
	}
	return code, c.body, nil
}

// readN appends n bytes of the answer to c.body.
func (c *rawConn) readN(n int) error {
	start := len(c.body)
	c.body = slices.Grow(c.body, n)[:start+n]
	_, err := io.ReadFull(c.r, c.body[start:])
	return err
}

// readChunked reads a chunked body into c.body, and the trailer after it.
func (c *rawConn) readChunked() error {
	c.body = c.body[:0]
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			for { // the trailer, up to its empty line
				line, err := c.r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if err := c.readN(int(n)); err != nil {
			return err
		}
		if _, err := c.r.Discard(2); err != nil { // the chunk's CRLF
			return err
		}
	}
}
