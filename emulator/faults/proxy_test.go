//go:build integration

package faults

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProxy checks the fault proxy itself, so that the outage tests fail for the pipeline's
// reasons and not the proxy's: it forwards; Cut resets open connections and refuses new ones;
// Stall holds bytes until Restore delivers them; Restore listens again on the same address.
func TestProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() { // a line echo server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	px := startProxy(t, ln.Addr().String())

	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", px.Addr, time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	echo := func(c net.Conn, r *bufio.Reader, msg string, wait time.Duration) (string, error) {
		_ = c.SetDeadline(time.Now().Add(wait))
		if _, err := c.Write([]byte(msg + "\n")); err != nil {
			return "", err
		}
		return r.ReadString('\n')
	}

	c, r := dial()
	got, err := echo(c, r, "hello", time.Second)
	require.NoError(t, err)
	assert.Equal(t, "hello\n", got)

	px.Stall()
	_, err = echo(c, r, "held", 300*time.Millisecond)
	require.Error(t, err, "a stalled path delivered")
	require.NoError(t, px.Restore())
	_ = c.SetDeadline(time.Now().Add(time.Second))
	got, err = r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "held\n", got, "the held bytes arrive once the path heals")

	px.Cut()
	_, err = echo(c, r, "after cut", time.Second)
	assert.Error(t, err, "an open connection survived the cut")
	_, err = net.DialTimeout("tcp", px.Addr, time.Second)
	assert.Error(t, err, "a new connection was accepted during the cut")

	require.NoError(t, px.Restore())
	c2, r2 := dial()
	got, err = echo(c2, r2, "back", time.Second)
	require.NoError(t, err)
	assert.Equal(t, "back\n", got)
	assert.Equal(t, 2, px.Accepted())
}
