package testenv

import (
	"net"
	"time"
)

// Listening reports whether something accepts TCP connections on addr ("host:port"): the
// check tests poll before sending a started server its first request.
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
