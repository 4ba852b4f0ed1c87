package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

func TestCNIConfigIsPtpOverThePodCIDR(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writeCNIConfig(dir, "10.244.1.0/24"))
	path := filepath.Join(dir, "10-aftershock.conflist")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var cfg struct {
		Plugins []struct {
			Type string `json:"type"`
			IPAM struct {
				Type   string                `json:"type"`
				Ranges [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	require.NoError(t, json.Unmarshal(b, &cfg))
	require.Len(t, cfg.Plugins, 2)
	assert.Equal(t, "ptp", cfg.Plugins[0].Type)
	assert.Equal(t, "host-local", cfg.Plugins[0].IPAM.Type)
	assert.Equal(t, "10.244.1.0/24", cfg.Plugins[0].IPAM.Ranges[0][0]["subnet"])
	assert.Equal(t, "portmap", cfg.Plugins[1].Type)

	// unchanged config is not rewritten (kubelet watches the folder)
	fi, _ := os.Stat(path)
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, writeCNIConfig(dir, "10.244.1.0/24"))
	fi2, _ := os.Stat(path)
	assert.Equal(t, fi.ModTime(), fi2.ModTime())
}

func TestInternalIP(t *testing.T) {
	n := &corev1.Node{Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "w1"},
		{Type: corev1.NodeInternalIP, Address: "fc00::2"},
		{Type: corev1.NodeInternalIP, Address: "172.18.0.3"},
	}}}
	assert.Equal(t, net.ParseIP("172.18.0.3").String(), internalIP(n).String())
	assert.Nil(t, internalIP(&corev1.Node{}))
}
