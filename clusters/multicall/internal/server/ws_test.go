package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
)

// The echo names the pod on every message and in the handshake; a graceful
// shutdown closes held connections with 1001 after the shutdown delay, an
// abrupt one drops them without a close frame.
func TestWebSocketEchoAndShutdown(t *testing.T) {
	for _, graceful := range []bool{true, false} {
		t.Run(map[bool]string{true: "graceful", false: "abrupt"}[graceful], func(t *testing.T) {
			addr := freeAddr(t)
			c := config{addr: addr, pod: "p1", node: "n1", graceful: graceful, shutdownDelay: 200 * time.Millisecond, drainTimeout: 5 * time.Second}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- serve(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
			waitListening(t, addr)
			dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer dcancel()
			ws, resp, err := websocket.Dial(dctx, "ws://"+addr+sampleapp.WSPath, nil)
			require.NoError(t, err)
			defer ws.CloseNow()
			assert.Equal(t, "p1", resp.Header.Get(HeaderPod))
			for _, m := range []string{"1", "hello"} {
				require.NoError(t, ws.Write(dctx, websocket.MessageText, []byte(m)))
				_, got, err := ws.Read(dctx)
				require.NoError(t, err)
				assert.Equal(t, "pod=p1 node=n1 "+m, string(got))
			}
			t0 := time.Now()
			cancel() // SIGTERM
			_, _, err = ws.Read(dctx)
			require.Error(t, err)
			if graceful {
				assert.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err), "%v", err)
				assert.GreaterOrEqual(t, time.Since(t0), c.shutdownDelay, "held through the shutdown delay")
			} else {
				assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "no close frame: %v", err)
			}
			require.NoError(t, <-done)
		})
	}
}
