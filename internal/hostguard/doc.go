// Package hostguard keeps a web service that listens on this machine (the
// dev Web UI, the codec endpoint) from being driven by other web sites
// through the user's browser.
//
// A page on evil.example can make its own name resolve to 127.0.0.1 (DNS
// rebinding) and then read and write a loopback service as same-origin:
// the browser sends "Host: evil.example:8233". The only thing that tells
// such a request apart is its Host header, so the guard answers only to the
// names the service really has: "localhost", loopback IP literals and the
// address it was configured to listen on (any IP literal when it listens on
// every interface; an IP literal cannot be rebound). A request whose Origin
// names another site is refused as well, so a page elsewhere cannot post to
// the service either.
package hostguard
