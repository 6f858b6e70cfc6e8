// Package smtpsink is a tiny SMTP server for tests: it speaks just enough of RFC 5321 (EHLO,
// HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to accept messages from a real client library, and
// records them. It offers neither STARTTLS nor AUTH.
package smtpsink

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one received email.
type Message struct {
	From string
	To   []string
	Data string // headers and body, dot-unstuffed, CRLF line ends
}

// Sink is a listening SMTP server.
type Sink struct {
	ln net.Listener
	mu sync.Mutex
	// msgs received so far
	msgs []Message
	// FailData, when set, makes DATA answer 451 (a temporary failure).
	failData bool
	// Delay is slept before accepting a message's data (to widen race windows).
	delay time.Duration
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Sink{ln: ln}
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

// Addr is host:port.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// URL is an MCPWARDEN_SMTP_URL for the sink.
func (s *Sink) URL(from string) string { return "smtp://" + s.Addr() + "?tls=none&from=" + from }

// SetFailData makes DATA fail (true) or succeed (false).
func (s *Sink) SetFailData(fail bool) { s.mu.Lock(); s.failData = fail; s.mu.Unlock() }

// SetDelay delays each message's acceptance.
func (s *Sink) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Messages returns the messages received so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

func (s *Sink) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.session(c)
	}
}

func (s *Sink) session(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
	reply("220 smtpsink ready")
	var cur Message
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(line)
		if i := strings.IndexByte(verb, ' '); i >= 0 {
			verb = verb[:i]
		}
		switch verb {
		case "EHLO":
			reply("250-smtpsink")
			reply("250-8BITMIME")
			reply("250 SMTPUTF8")
		case "HELO":
			reply("250 smtpsink")
		case "MAIL":
			cur = Message{From: addrArg(line)}
			reply("250 OK")
		case "RCPT":
			cur.To = append(cur.To, addrArg(line))
			reply("250 OK")
		case "DATA":
			s.mu.Lock()
			fail, delay := s.failData, s.delay
			s.mu.Unlock()
			if fail {
				reply("451 try again later")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			time.Sleep(delay)
			cur.Data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			cur = Message{}
			reply("250 OK queued")
		case "RSET":
			cur = Message{}
			reply("250 OK")
		case "NOOP":
			reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 command not implemented")
		}
	}
}

// addrArg extracts the address from "MAIL FROM:<a@b> ..." or "RCPT TO:<a@b>".
func addrArg(line string) string {
	i, j := strings.IndexByte(line, '<'), strings.IndexByte(line, '>')
	if i < 0 || j < i {
		return ""
	}
	return line[i+1 : j]
}
