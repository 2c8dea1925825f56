package hostguard

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Policy names the address a service listens on, from which the names it
// answers to follow.
type Policy struct {
	// IP is the address the service binds; unspecified (0.0.0.0, ::)
	// means every interface.
	IP net.IP
	// Port is the port it binds.
	Port int
}

// HostAllowed reports whether hostport (a Host header: host[:port]) names
// this service rather than some other site resolving to it.
func (p Policy) HostAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: the browser omits only the scheme's default.
		host, port = strings.Trim(hostport, "[]"), "80"
	}
	if port != strconv.Itoa(p.Port) {
		return false
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	return ip.IsLoopback() || ip.Equal(p.IP) || p.IP.IsUnspecified()
}

// OriginAllowed reports whether origin (an Origin header) is a page of this
// service itself.
func (p Policy) OriginAllowed(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return false
	}
	host := u.Host
	if u.Port() == "" {
		def := "80"
		if u.Scheme == "https" {
			def = "443"
		}
		host = net.JoinHostPort(u.Hostname(), def)
	}
	return p.HostAllowed(host)
}

// Wrap serves next only to requests addressed to this service by one of
// its own names and, when they carry an Origin, sent by one of its own
// pages; anything else is refused with 403 before next sees it.
func (p Policy) Wrap(next http.Handler) http.Handler {
	return p.wrap(next, true)
}

// WrapHost is Wrap without the Origin check, for a service that other
// origins may call and that checks Origin itself (the codec endpoint,
// called from the Web UI's pages).
func (p Policy) WrapHost(next http.Handler) http.Handler {
	return p.wrap(next, false)
}

func (p Policy) wrap(next http.Handler, checkOrigin bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.HostAllowed(r.Host) {
			http.Error(w, "host not allowed: this server answers only to its own address", http.StatusForbidden)
			return
		}
		if o := r.Header.Get("Origin"); checkOrigin && o != "" && !p.OriginAllowed(o) {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
