package tcptest

import (
	"io"
	"net"
	"testing"
	"time"
)

func roundTrip(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("got %q, %v", buf, err)
	}
}

func TestEchoAndForward(t *testing.T) {
	echo := Echo(t)
	roundTrip(t, echo)
	roundTrip(t, Forward(t, "127.0.0.1:0", echo, time.Millisecond))
	roundTrip(t, Forward(t, FreeAddr(t), echo, 0))
}

func TestBlackholeNeverAnswers(t *testing.T) {
	c, err := net.DialTimeout("tcp", Blackhole(t), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var b [1]byte
	if _, err := c.Read(b[:]); err == nil {
		t.Fatal("a black hole answered")
	}
}

func TestForwardClosesWhenUpstreamRefuses(t *testing.T) {
	c, err := net.DialTimeout("tcp", Forward(t, "127.0.0.1:0", FreeAddr(t), 0), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); err != io.EOF {
		t.Fatalf("read %v, want EOF", err)
	}
}
