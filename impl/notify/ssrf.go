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
)

// forbiddenPrefixes are address ranges a webhook must not reach: a server inside a private
// network would otherwise be a proxy into it (SSRF). Loopback, private, link-local and the like
// are also checked with netip's predicates; these add the ranges those miss.
var forbiddenPrefixes = mustPrefixes(
	"0.0.0.0/8",      // "this network"; 0.0.0.0 reaches the local host on Linux
	"100.64.0.0/10",  // carrier-grade NAT (RFC 6598)
	"192.0.0.0/24",   // IETF protocol assignments
	"198.18.0.0/15",  // benchmarking
	"240.0.0.0/4",    // reserved, and 255.255.255.255
	"169.254.0.0/16", // link-local, including the cloud metadata service 169.254.169.254
	"fc00::/7",       // unique-local, including the EC2 metadata service fd00:ec2::254
	"fe80::/10",      // link-local
	"::/128",         // unspecified
	"100::/64",       // discard-only
	"2001:db8::/32",  // documentation
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// ForbiddenAddr reports whether a webhook may not connect to ip.
func ForbiddenAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if ip.Is6() {
		b := ip.As16()
		// Addresses that embed an IPv4 address reach it through a translator: NAT64
		// (64:ff9b::/96), 6to4 (2002::/16) and the deprecated IPv4-compatible form (::/96).
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(ip), netip.MustParsePrefix("::/96").Contains(ip):
			return ForbiddenAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case netip.MustParsePrefix("2002::/16").Contains(ip):
			return ForbiddenAddr(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
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
			return fmt.Errorf("%w: %s is a loopback, private, link-local or otherwise internal address", ErrForbiddenAddress, ip)
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
			return fmt.Errorf("%w: %s resolves to %s, a loopback, private, link-local or otherwise internal address", ErrForbiddenAddress, host, ip.Unmap())
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
