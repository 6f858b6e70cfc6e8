package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"code.dny.dev/ssrf"
)

// guardian refuses every address of the IANA special-purpose registries (code.dny.dev/ssrf,
// generated from them): loopback, private, link-local (the cloud metadata services), shared,
// documentation and benchmarking ranges, NAT64 and the other IPv6 translation ranges, and
// anything outside IPv6 global unicast. Webhooks may use any port.
var guardian = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

// ForbiddenAddr reports whether a webhook may not connect to ip: an address the special-purpose
// registries reserve, or one of this machine's own.
func ForbiddenAddr(ip netip.Addr) bool {
	if !ip.IsValid() || guardian.SafeAddr(ip.Unmap()) != nil {
		return true
	}
	return ownAddress(ip.Unmap())
}

// ownAddress reports whether ip is an address of one of this machine's interfaces: a public
// address of the server's own reaches services that listen on every interface.
func ownAddress(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: refuse
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == ip {
			return true
		}
	}
	return false
}

// ErrForbiddenAddress is wrapped by errors about webhook URLs that reach forbidden addresses.
var ErrForbiddenAddress = errors.New("address not allowed for webhooks")

// ParseWebhookURL checks the shape of a webhook URL: http or https, a host, no fragment.
func ParseWebhookURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("the scheme must be http or https")
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("the URL has no host")
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("not a valid URL")
	}
	return u, nil
}

// Resolver is the part of net.Resolver CheckWebhookURL uses; tests replace it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckWebhookURL refuses URLs whose host is, or resolves to, a forbidden address. Every
// resolved address must be allowed, since the dialer may pick any of them. It is a check at
// creation, for a clear answer; the dialer's Control hook (SafeDialer) repeats it at delivery
// against the address actually dialled, which DNS rebinding cannot get around.
func CheckWebhookURL(ctx context.Context, r Resolver, raw string) error {
	u, err := ParseWebhookURL(raw)
	if err != nil {
		return err
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		if ForbiddenAddr(ip) {
			return fmt.Errorf("%w: %s is a loopback, private, link-local, reserved or this server's own address", ErrForbiddenAddress, ip)
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fmt.Errorf("%w: %s is the local host", ErrForbiddenAddress, host)
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("the host %s does not resolve", host)
	}
	for _, ip := range addrs {
		if ForbiddenAddr(ip) {
			// Which address is not said: the answer would map the internal network.
			return fmt.Errorf("%w: %s resolves to a loopback, private, link-local or otherwise internal address", ErrForbiddenAddress, host)
		}
	}
	return nil
}

// dialControl runs after name resolution, just before connect, with the address actually
// dialled: the check a rebinding DNS answer cannot dodge.
func dialControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrForbiddenAddress, host)
	}
	if ForbiddenAddr(ip) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip.Unmap())
	}
	return nil
}
