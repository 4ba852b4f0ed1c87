package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"
)

// WebSocket echo (sampleapp.WSPath): every text or binary message comes
// back as "pod=POD node=NODE " followed by the message, so each echo names
// the pod that holds the connection (the handshake's response carries the
// same X-Aftershock-Pod and X-Aftershock-Node headers). On a graceful
// shutdown every held connection is closed with 1001 (going away) when the
// server stops serving; an abrupt exit drops them without a close frame.

// webSockets are the connections the app holds.
type webSockets struct {
	mu     sync.Mutex
	conns  map[*websocket.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // one per connection until its handler returns
}

func (a *app) websocket(w http.ResponseWriter, r *http.Request) {
	a.stamp(w)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // any Origin: a test client, not a browser page
	if err != nil {
		return // Accept has answered the request
	}
	if !a.ws.add(c) {
		c.Close(websocket.StatusGoingAway, "draining")
		return
	}
	defer a.ws.remove(c)
	prefix := fmt.Appendf(nil, "pod=%s node=%s ", a.c.pod, a.c.node)
	ctx := context.Background() // the connection lives until either side closes it
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
				c.CloseNow()
			}
			return
		}
		if err := c.Write(ctx, typ, append(prefix[:len(prefix):len(prefix)], msg...)); err != nil {
			c.CloseNow()
			return
		}
	}
}

func (s *webSockets) add(c *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[*websocket.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *webSockets) remove(c *websocket.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// goAway closes every held connection with 1001 and refuses new ones; it
// returns when their handlers have returned or ctx ends.
func (s *webSockets) goAway(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	conns := make([]*websocket.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		go c.Close(websocket.StatusGoingAway, "draining") // each waits for the peer's close frame
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// drop closes every held connection without a close frame (what an abrupt
// exit does).
func (s *webSockets) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.CloseNow()
	}
}
